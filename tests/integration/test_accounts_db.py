"""The accounts database on SQLite and PostgreSQL: migrations, Argon2id hashes and their rehash,
sessions, lockout and API keys, with the clock moved by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import extract_parameters
from sqlalchemy import select

from gateway.accounts.models import users
from gateway.accounts.service import AccountLocked, Accounts, BadCredentials
from services.common.errors import Conflict
from services.common.settings import Settings

PASSWORD = "芝罘区-绿色低碳-2025"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 6, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_accounts(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    clock: Clock,
) -> Iterator[Callable[..., Accounts]]:
    url = database_url_factory("gateway")
    opened: list[Accounts] = []

    def make(**overrides: object) -> Accounts:
        accounts = Accounts(settings_factory(gateway_database_url=url, **overrides), clock=clock)
        accounts.migrate()
        opened.append(accounts)
        return accounts

    yield make
    for accounts in opened:
        accounts.close()


def stored_hash(accounts: Accounts, username: str) -> str:
    with accounts.engine.connect() as conn:
        return conn.execute(
            select(users.c.password_hash).where(users.c.username == username)
        ).scalar_one()


def test_passwords_are_argon2id_at_the_configured_cost_and_never_stored_plain(make_accounts):
    accounts = make_accounts()
    accounts.add_user(username="li.min", roles=["viewer"], password=PASSWORD)
    stored = stored_hash(accounts, "li.min")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    params = extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 19456, 1)


def test_a_sign_in_rehashes_a_password_hashed_at_an_older_cost(make_accounts):
    old = make_accounts(argon2_time_cost=1, argon2_memory_kib=8192)
    old.add_user(username="li.min", roles=["viewer"], password=PASSWORD)
    assert extract_parameters(stored_hash(old, "li.min")).memory_cost == 8192
    new = make_accounts(argon2_time_cost=3, argon2_memory_kib=12288)
    new.sign_in("li.min", PASSWORD, address="10.0.0.1")
    params = extract_parameters(stored_hash(new, "li.min"))
    assert (params.time_cost, params.memory_cost) == (3, 12288)
    new.sign_in("li.min", PASSWORD, address="10.0.0.1")  # the new hash verifies


def test_sessions_expire_idle_and_absolute_and_end_on_sign_out(make_accounts, clock):
    accounts = make_accounts()
    accounts.add_user(username="li.min", roles=["viewer"], password=PASSWORD)
    signed = accounts.sign_in("li.min", PASSWORD, address="10.0.0.1")
    assert accounts.session(signed.token).user.username == "li.min"
    clock.now += timedelta(minutes=30)
    assert accounts.session(signed.token) is None
    signed = accounts.sign_in("li.min", PASSWORD, address="10.0.0.1")
    for _ in range(47):  # 11 h 45 min of 15-minute steps
        clock.now += timedelta(minutes=15)
        assert accounts.session(signed.token) is not None
    clock.now += timedelta(minutes=15)
    assert accounts.session(signed.token) is None
    signed = accounts.sign_in("li.min", PASSWORD, address="10.0.0.1")
    accounts.close_session(signed.token)
    assert accounts.session(signed.token) is None


def test_the_slow_down_grows_by_its_setting_and_stops_at_six_steps(make_accounts):
    accounts = make_accounts(login_slowdown_seconds=0.1, login_max_failures=10)
    accounts.add_user(username="li.min", roles=["viewer"], password=PASSWORD)
    delays = []
    for _ in range(9):
        with pytest.raises(BadCredentials) as refused:
            accounts.sign_in("li.min", "wrong-password", address="10.0.0.1")
        delays.append(refused.value.delay)
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6])


def test_failures_slow_down_then_lock_per_name_and_the_lock_lifts_after_its_time(
    make_accounts, clock
):
    accounts = make_accounts()
    accounts.add_user(username="li.min", roles=["viewer"], password=PASSWORD)
    delays = []
    for _ in range(4):
        with pytest.raises(BadCredentials) as refused:
            accounts.sign_in("li.min", "wrong-password", address="10.0.0.1")
        delays.append(refused.value.delay)
    assert delays == [0.0, 0.25, 0.5, 0.75]  # each repeated failure is answered later
    with pytest.raises(AccountLocked):
        accounts.sign_in("li.min", "wrong-password", address="10.0.0.2")
    with pytest.raises(AccountLocked):
        accounts.sign_in("li.min", PASSWORD, address="10.0.0.3")
    clock.now += timedelta(minutes=15)
    assert accounts.sign_in("li.min", PASSWORD, address="10.0.0.3").user.username == "li.min"


def test_api_keys_are_stored_as_digests_and_stop_at_expiry_or_revocation(make_accounts, clock):
    accounts = make_accounts()
    row, key = accounts.create_api_key(
        name="看板", role="viewer", expires_at=clock.now + timedelta(hours=1), created_by="admin"
    )
    with accounts.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_hash, prefix FROM api_keys").one()
    assert key not in stored and key.startswith(stored[1]) and len(stored[0]) == 64
    assert accounts.api_key_principal(key).display_name == "看板"
    assert accounts.get_api_key(row["id"])["last_used_at"] is not None
    clock.now += timedelta(hours=1)
    assert accounts.api_key_principal(key) is None
    row, key = accounts.create_api_key(
        name="脚本", role="admin", expires_at=clock.now + timedelta(days=1), created_by="admin"
    )
    accounts.revoke_api_key(row["id"])
    assert accounts.api_key_principal(key) is None
    assert accounts.get_api_key(row["id"])["state"] == "revoked"


def test_the_last_enabled_administrator_can_be_neither_disabled_nor_demoted(make_accounts):
    accounts = make_accounts()
    accounts.add_user(username="root", roles=["admin"], password=PASSWORD)
    with pytest.raises(Conflict, match="administrator"):
        accounts.set_disabled("root", True)
    with pytest.raises(Conflict):
        accounts.update_user("root", changes={"roles": ["viewer"]})
    assert accounts.get_user("root").roles == ["admin"] and not accounts.get_user("root").disabled
    accounts.add_user(username="deputy", roles=["admin", "viewer"], password=PASSWORD)
    assert accounts.set_disabled("root", True).disabled
