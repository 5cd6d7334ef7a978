"""Who may do what on the broker: one NATS user per part, each allowed only its own subjects.

projects and enterprises publish their own domain events (projects also its stage notices on the
live stream); events reads the domain stream through its durable consumer and publishes the
target notices on the live stream; the gateway reads the live stream. Every
part may look up and provision the two streams (each service makes sure they exist when it
connects) and receives its replies on `_INBOX.>`. The embedded nats-server of `plantrack up` is
configured from these rules with passwords generated into the data dir; deploy/nats has the same
rules for the default names.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from services.common.settings import PRIVATE_FILE_MODE, Settings

USERS = ("projects", "enterprises", "events", "gateway")
CREDENTIALS_FILE = "nats-users.json"
CONFIG_FILE = "nats.conf"
ACCOUNT = "PLANTRACK"
INBOX = "_INBOX.>"


def _streams(settings: Settings) -> list[str]:
    """Looking up and provisioning both streams: every part does it when it connects."""
    out = ["$JS.API.INFO"]
    for stream in (settings.stream, settings.live_stream):
        out += [f"$JS.API.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]
    return out


def _consumes(stream: str) -> list[str]:
    """Creating, reading, acknowledging and deleting consumers of one stream."""
    return [
        f"$JS.API.CONSUMER.*.{stream}",
        f"$JS.API.CONSUMER.*.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def permissions(settings: Settings) -> dict[str, dict[str, list[str]]]:
    """Each user's publish and subscribe allowances (everything else is denied)."""
    domain, live = settings.domain_subjects, settings.live_subjects
    streams = _streams(settings)
    return {
        # projects also announces its stage changes to the dashboards
        "projects": {
            "publish": [f"{domain}.projects.>", f"{live}.project.>", *streams],
            "subscribe": [INBOX],
        },
        "enterprises": {"publish": [f"{domain}.enterprises.>", *streams], "subscribe": [INBOX]},
        "events": {
            "publish": [f"{live}.target.>", *streams, *_consumes(settings.stream)],
            # the live lane reads new domain events as they are published
            "subscribe": [INBOX, f"{domain}.>"],
        },
        "gateway": {
            "publish": [*streams, *_consumes(settings.live_stream)],
            "subscribe": [INBOX, f"{live}.>"],
        },
    }


def credentials(data_dir: Path) -> dict[str, str]:
    """Each user's password: generated once into `DATA_DIR/nats-users.json` (0600)."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return json.loads(path.read_text())
    made = {user: secrets.token_urlsafe(32) for user in USERS}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        json.dump(made, fh, indent=1)
    return made


def server_config(settings: Settings, passwords: dict[str, str]) -> dict[str, Any]:
    """The accounts block of a nats-server configuration (NATS reads JSON as its own format)."""
    rules = permissions(settings)
    users = [
        {
            "user": user,
            "password": passwords[user],
            "permissions": {
                "publish": {"allow": rules[user]["publish"]},
                "subscribe": {"allow": rules[user]["subscribe"]},
            },
        }
        for user in USERS
    ]
    return {"accounts": {ACCOUNT: {"jetstream": "enabled", "users": users}}}


def write_server_config(data_dir: Path, settings: Settings) -> Path:
    """`DATA_DIR/nats.conf` (0600) for the embedded server, rewritten at every start."""
    path = data_dir / CONFIG_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        json.dump(server_config(settings, credentials(data_dir)), fh, indent=1)
    return path


def client_env(data_dir: Path, user: str) -> dict[str, str]:
    """The environment that makes a part connect as its own user."""
    return {"PLANTRACK_NATS_USER": user, "PLANTRACK_NATS_PASSWORD": credentials(data_dir)[user]}


def password_variable(user: str) -> str:
    """The environment variable a deployed nats-server reads `user`'s password from."""
    return f"NATS_{user.upper()}_PASSWORD"


def deploy_accounts(settings: Settings) -> str:
    """deploy/nats/accounts.conf: the same users and rules, passwords from the environment
    (`nats-server` refuses to start when one is missing)."""
    rules = permissions(settings)

    def subjects(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(s) for s in items) + "]"

    lines = [
        "# One user per plantrack part, each allowed only its own subjects. Generated from",
        "# services/common/natsauth.py by `python -m services.common.natsauth`; do not edit.",
        "accounts {",
        f"  {ACCOUNT} {{",
        "    jetstream: enabled",
        "    users: [",
    ]
    for user in USERS:
        lines += [
            f"      {{user: {user}, password: ${password_variable(user)}, permissions: {{",
            f"        publish: {{allow: {subjects(rules[user]['publish'])}}}",
            f"        subscribe: {{allow: {subjects(rules[user]['subscribe'])}}}",
            "      }}",
        ]
    lines += ["    ]", "  }", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(deploy_accounts(Settings()), end="")
