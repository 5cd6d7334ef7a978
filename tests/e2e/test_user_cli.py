"""`plantrack user …` on a deployment's data dir: add, list, disable, enable, reset-password.

The first command runs as its own process (what an operator types); the others call the same
command-line application in this process, which spares a Python start-up per command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from typer.testing import CliRunner

from gateway.accounts.service import Accounts, BadCredentials
from services.cli import app
from services.common.errors import Forbidden
from services.common.settings import Settings


def plantrack_process(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTRACK_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args, "--data-dir", str(data_dir)],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def plantrack(data_dir: Path, *args: str, stdin: str | None = None) -> SimpleNamespace:
    """The same command in this process: its exit status, stdout and stderr."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PLANTRACK_")}
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], input=stdin, env=unset)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is not a refusal
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def signs_in(data_dir: Path, username: str, password: str) -> Any:
    accounts = Accounts(Settings(data_dir=data_dir))
    try:
        accounts.sign_in(username, password, address="cli-test")
        return True
    except (BadCredentials, Forbidden) as exc:
        return exc.detail
    finally:
        accounts.close()


def test_user_commands_manage_people_and_never_print_a_password_read_from_stdin(tmp_path: Path):
    data = tmp_path / "data"
    r = plantrack_process(
        data, "user", "add", "li.min", "--role", "project_office", "--display-name", "项目办 李敏",
        "--sub-district", "向阳街道", "--password-stdin", stdin="绿色低碳-2025-li\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "绿色低碳-2025-li" not in r.stdout + r.stderr
    assert signs_in(data, "li.min", "绿色低碳-2025-li") is True

    r = plantrack(data, "user", "add", "wang", "--role", "viewer", "--role", "project_office")
    assert r.returncode == 0, r.stderr
    generated = r.stdout.split("password: ")[1].strip()
    assert len(generated) == 16 and signs_in(data, "wang", generated) is True

    listed = plantrack(data, "user", "list").stdout
    assert "li.min" in listed and "项目办 李敏" in listed and "向阳街道" in listed
    assert "project_office,viewer" in listed or "viewer,project_office" in listed

    assert plantrack(data, "user", "disable", "wang").returncode == 0
    assert "停用" in signs_in(data, "wang", generated)
    assert plantrack(data, "user", "enable", "wang").returncode == 0
    assert signs_in(data, "wang", generated) is True

    r = plantrack(data, "user", "reset-password", "wang")
    new = r.stdout.split("password: ")[1].strip()
    assert new != generated and signs_in(data, "wang", new) is True
    assert "错误" in signs_in(data, "wang", generated)


def test_user_add_refuses_a_common_password_and_a_duplicate(tmp_path: Path):
    data = tmp_path / "data"
    r = plantrack(
        data, "user", "add", "x1", "--role", "viewer", "--password-stdin", stdin="password1234\n"
    )
    assert r.returncode == 1 and "常见" in r.stderr
    assert plantrack(data, "user", "add", "x1", "--role", "viewer").returncode == 0
    r = plantrack(data, "user", "add", "x1", "--role", "viewer")
    assert r.returncode == 1 and "已存在" in r.stderr
    r = plantrack(data, "user", "add", "x2", "--role", "chief")
    assert r.returncode == 1 and "未知角色" in r.stderr
