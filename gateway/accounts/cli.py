"""`plantrack user …`: people's accounts from the command line, and the first accounts of `up`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from gateway.accounts import passwords
from gateway.accounts.service import Accounts
from services.common.errors import DomainError
from services.common.i18n import Text
from services.common.settings import Settings

app = typer.Typer(no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(help="The deployment's data directory")]

# `up --demo`: one account per role, with passwords everybody may know (a demo has no secrets).
DEMO_ACCOUNTS = (
    ("admin", "系统管理员", "admin", "zhifu-guanli-2025"),
    ("office", "项目办 李敏", "project_office", "zhifu-taizhang-2025"),
    ("invest", "招商 王磊", "investment_promotion", "zhifu-zhaoshang-2025"),
    ("leader", "区领导 陈刚", "viewer", "zhifu-kanban-2025"),
)


@contextmanager
def opened(data_dir: Path | None) -> Iterator[Accounts]:
    """The deployment's accounts database, migrated; a refused change exits with its reason."""
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    accounts = Accounts(settings)
    try:
        accounts.migrate()
        yield accounts
    except DomainError as exc:
        detail = exc.detail
        said = f"{detail.zh}（{detail.en}）" if isinstance(detail, Text) else detail
        typer.echo(f"refused: {said}", err=True)
        raise typer.Exit(1) from exc
    finally:
        accounts.close()


def first_accounts(settings: Settings, *, demo: bool) -> list[str]:
    """What `up` creates when there are no accounts yet, as lines to print (passwords once)."""
    accounts = Accounts(settings)
    try:
        accounts.migrate()
        if accounts.count_users():
            return []
        if demo:
            lines = []
            for username, name, role, password in DEMO_ACCOUNTS:
                accounts.add_user(
                    username=username, display_name=name, roles=[role], password=password
                )
                lines.append(f"{username:<7} / {password:<17} {name} ({role})")
            return lines
        password = passwords.generate("admin")
        accounts.add_user(
            username="admin", display_name="系统管理员", roles=["admin"], password=password
        )
        return [f"admin / {password}  (one-time: shown only now; change it with reset-password)"]
    finally:
        accounts.close()


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name: lower-case letters, digits . _ -")],
    role: Annotated[
        list[str], typer.Option(help="admin, project_office, investment_promotion or viewer")
    ],
    display_name: Annotated[str | None, typer.Option(help="The name shown, e.g. 张三")] = None,
    sub_district: Annotated[
        list[str] | None, typer.Option(help="Limit changes to this sub-district (repeatable)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from stdin instead of generating one")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add a person; the generated password is printed once."""
    password = _stdin_password() if password_stdin else passwords.generate(username.strip())
    with opened(data_dir) as accounts:
        user = accounts.add_user(
            username=username,
            display_name=display_name,
            roles=role,
            sub_districts=sub_district or [],
            password=password,
        )
    typer.echo(f"added {user.username} ({user.display_name}; {', '.join(user.roles)})")
    if not password_stdin:
        typer.echo(f"password: {password}")


@app.command("list")
def list_(data_dir: DataDir = None) -> None:
    """Every account: name, display name, roles, scope, state, last sign-in."""
    with opened(data_dir) as accounts:
        users = accounts.list_users()
    for u in users:
        scope = ",".join(u.sub_districts) or "全区"
        state = "disabled" if u.disabled else "active"
        last = u.last_sign_in_at.isoformat(timespec="minutes") if u.last_sign_in_at else "never"
        typer.echo(
            f"{u.username:<16} {u.display_name:<12} {','.join(u.roles):<32} {scope:<10} "
            f"{state:<8} {last}"
        )


@app.command("disable")
def disable(username: str, data_dir: DataDir = None) -> None:
    """Stop a person signing in; their sessions end at once."""
    with opened(data_dir) as accounts:
        accounts.set_disabled(username, True)
    typer.echo(f"disabled {username}")


@app.command("enable")
def enable(username: str, data_dir: DataDir = None) -> None:
    """Let a disabled person sign in again."""
    with opened(data_dir) as accounts:
        accounts.set_disabled(username, False)
    typer.echo(f"enabled {username}")


@app.command("reset-password")
def reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the new password from stdin")] = False,
    data_dir: DataDir = None,
) -> None:
    """A new password (printed once unless read from stdin); sessions end, a lock is lifted."""
    given = _stdin_password() if password_stdin else None
    with opened(data_dir) as accounts:
        _, password = accounts.reset_password(username, given)
    typer.echo(f"password of {username} reset")
    if given is None:
        typer.echo(f"password: {password}")


def _stdin_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")
