"""The `plantrack` command: run the system, issue tokens, migrate, replay."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from services.common.auth import Role, issue_token
from services.common.settings import SERVICES, NoDeployment, Settings

WATCH_SECONDS = 0.2
"""How often `up` looks at its children."""

app = typer.Typer(help="plantrack: tracks the district's three-year plan.", no_args_is_help=True)


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir else Settings()


def _deployment_secret(settings: Settings, *, chosen: bool) -> str:
    """The deployment's secret; never a new one, whose tokens every service would refuse.
    With no data dir chosen and none here, the one deployment `up` runs for this user."""
    from services.supervisor import running_deployments

    try:
        return settings.signing_secret(create=False)
    except NoDeployment as exc:
        problem = f"{exc}: its secret.key is missing"
    if not chosen and "PLANTRACK_DATA_DIR" not in os.environ:
        running = running_deployments()
        if len(running) == 1:
            where = Path(running[0]["data_dir"])
            typer.echo(f"using the deployment running from {where}", err=True)
            return _deployment_secret(Settings(data_dir=where), chosen=True)
        if running:
            dirs = ", ".join(r["data_dir"] for r in running)
            typer.echo(
                f"{problem}, and several are running ({dirs}): choose one with --data-dir.",
                err=True,
            )
            raise typer.Exit(1)
    typer.echo(
        f"{problem}. Give the data directory `plantrack up` printed with --data-dir "
        "(or set PLANTRACK_DATA_DIR or PLANTRACK_SECRET).",
        err=True,
    )
    raise typer.Exit(1)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


@app.command()
def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where databases, NATS store and logs live")
    ] = None,
    port: Annotated[
        int, typer.Option(help="Gateway port; the services take the next three")
    ] = 8000,
    nats_cluster: Annotated[
        int, typer.Option(help="Run a local NATS cluster of this many nodes")
    ] = 0,
    replicas: Annotated[
        int, typer.Option(help="Processes per service (PostgreSQL for more than 1)")
    ] = 1,
    demo: Annotated[bool, typer.Option(help="Load a demo data set through the API")] = False,
) -> None:
    """Start NATS (unless PLANTRACK_NATS_URL is set), the three services and the gateway."""
    from services.supervisor import PortTaken, Supervisor

    settings = _settings(data_dir)
    external = settings.nats_url if "PLANTRACK_NATS_URL" in os.environ else None
    sup = Supervisor(
        data_dir=settings.data_dir.resolve(),
        port=port,
        nats_url=external,
        nats_cluster=nats_cluster,
        replicas=replicas,
        report=lambda line: typer.echo(line, err=True),
        restart=True,
    )

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a process started from a background job inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    failed: str | None = None
    try:
        sup.start()
        sup.wait_ready()
        gateway = sup.url("gateway")
        token = issue_token(settings.signing_secret(), Role.viewer, subject="dashboard")
        from gateway.accounts.cli import first_accounts

        accounts = first_accounts(settings, demo=demo)
        if demo:
            from services.demo import load_demo

            admin = issue_token(settings.signing_secret(), Role.admin, subject="demo-loader")
            typer.echo(f"demo data: {load_demo(gateway, admin)}")
        typer.echo(f"plantrack is up (data in {sup.data_dir})")
        typer.echo(f"  sign in     {gateway}/app/login")
        for line in accounts:
            typer.echo(f"              {line}")
        typer.echo(f"  dashboard   {gateway}/#token={token}")
        typer.echo(f"  API docs    {gateway}/docs")
        for name in SERVICES:
            typer.echo(f"  {name:<11} {sup.url(name)}")
        typer.echo(f"  logs        {sup.log_dir}")
        typer.echo(f"  tokens      plantrack token ROLE --data-dir {sup.data_dir}")
        typer.echo("Ctrl-C stops everything.")
        sys.stdout.flush()
        while True:
            sup.watch()
            time.sleep(WATCH_SECONDS)
    except KeyboardInterrupt:
        pass
    except PortTaken as exc:
        failed = str(exc)
    except (RuntimeError, TimeoutError) as exc:
        failed = f"plantrack could not start: {exc} (logs in {sup.log_dir})"
    finally:
        if failed is None:
            typer.echo("stopping…")
        sup.stop()
        if failed is None:
            typer.echo("stopped")
    if failed is not None:
        typer.echo(failed, err=True)
        raise typer.Exit(1)


def _ago(seconds: float) -> str:
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@app.command()
def status(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """List each part of the running system: pid, uptime, restarts, last exit."""
    from services.supervisor import read_status, running_deployments

    where = _settings(data_dir).data_dir.resolve()
    body = read_status(where)
    if body is None and data_dir is None and "PLANTRACK_DATA_DIR" not in os.environ:
        running = running_deployments()
        if len(running) == 1:  # none here, one elsewhere: that is the one meant
            where = Path(running[0]["data_dir"])
            body = read_status(where)
    if body is None:
        typer.echo(f"plantrack is not running from {where}", err=True)
        raise typer.Exit(1)
    now = time.time()
    typer.echo(f"plantrack is running from {where} (pid {body['pid']}, {body['gateway']})")
    typer.echo(f"{'part':<14}{'pid':>8}  {'state':<11}{'uptime':>9}{'restarts':>10}  last exit")
    for name, part in body["parts"].items():
        running = part["state"] == "running" and part["started_at"]
        uptime = _ago(now - part["started_at"]) if running else "-"
        typer.echo(
            f"{name:<14}{part['pid'] or '-':>8}  {part['state']:<11}{uptime:>9}"
            f"{part['restarts']:>10}  {part['last_exit'] or '-'}"
        )
    if any(p["state"] != "running" for p in body["parts"].values()):
        raise typer.Exit(2)


@app.command()
def token(
    role: Annotated[
        Role, typer.Argument(help="admin, project_office, investment_promotion or viewer")
    ],
    subject: Annotated[str | None, typer.Option(help="Who the token speaks for")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 8h, 30m, 7d")] = "8h",
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Print a bearer token for this deployment."""
    secret = _deployment_secret(_settings(data_dir), chosen=data_dir is not None)
    typer.echo(issue_token(secret, role, subject=subject, ttl_seconds=_duration(ttl)))


@app.command()
def migrate(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """Apply every service's database migrations."""
    from importlib import import_module

    from services.common.db import make_engine
    from services.common.db import migrate as run

    settings = _settings(data_dir)
    for name in SERVICES:
        module = import_module(f"services.{name}.app")
        engine = make_engine(settings.database_url(name))
        run(engine, module.MIGRATIONS)
        engine.dispose()
        typer.echo(f"{name}: migrated")


@app.command()
def replay(
    url: Annotated[str, typer.Option(help="The events service (or gateway) base URL")] = "",
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Rebuild every roll-up from the event stream and switch over atomically."""
    import httpx

    settings = _settings(data_dir)
    base = url or settings.events_url
    admin = issue_token(
        _deployment_secret(settings, chosen=data_dir is not None),
        Role.admin,
        subject="cli-replay",
        ttl_seconds=3600,
    )
    r = httpx.post(
        f"{base}/api/v1/admin/replay", headers={"Authorization": f"Bearer {admin}"}, timeout=3600
    )
    typer.echo(r.text)
    raise typer.Exit(0 if r.status_code < 300 else 1)


def _user_app() -> typer.Typer:
    from gateway.accounts.cli import app as user_app

    return user_app


app.add_typer(_user_app(), name="user", help="People's accounts: add, list, disable, enable…")


if __name__ == "__main__":
    app()
