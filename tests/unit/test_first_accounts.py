"""The accounts `plantrack up` makes on an empty deployment: an admin, or the demo's four."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.accounts.cli import DEMO_ACCOUNTS, first_accounts
from gateway.accounts.service import Accounts
from services.common.settings import Settings


def test_the_first_up_creates_admin_with_a_password_shown_once(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    (line,) = first_accounts(settings, demo=False)
    password = re.match(r"admin / (\S+)", line).group(1)
    assert first_accounts(settings, demo=False) == []  # never again, never another password
    accounts = Accounts(settings)
    try:
        signed = accounts.sign_in("admin", password, address="test")
        assert signed.user.roles == ["admin"]
    finally:
        accounts.close()


def test_up_demo_creates_one_account_per_role_with_the_known_passwords(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    lines = first_accounts(settings, demo=True)
    assert len(lines) == 4 and all(password in "".join(lines) for *_, password in DEMO_ACCOUNTS)
    accounts = Accounts(settings)
    try:
        people = {u.username: (u.display_name, u.roles) for u in accounts.list_users()}
        assert people == {
            "admin": ("系统管理员", ["admin"]),
            "office": ("项目办 李敏", ["project_office"]),
            "invest": ("招商 王磊", ["investment_promotion"]),
            "leader": ("区领导 陈刚", ["viewer"]),
        }
        for username, _, _, password in DEMO_ACCOUNTS:
            assert accounts.sign_in(username, password, address="test").user.username == username
    finally:
        accounts.close()
