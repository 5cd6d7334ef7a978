"""deploy/nats as a real server: a part connects over TLS as its own user and may publish only
its own subjects; no one connects without a user or without TLS."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from services.common import natsauth
from services.common.nats import connect
from services.common.natsserver import free_port, nats_server_binary, port_open
from services.common.settings import Settings

DEPLOY_NATS = Path(__file__).resolve().parents[2] / "deploy" / "nats"
PASSWORDS = {user: f"pw-{user}-0123456789" for user in natsauth.USERS}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """One node of deploy/nats/nats-cluster.conf, on free loopback ports, with make-tls.sh's
    certificates (its routes to nats-1 and nats-2 lead nowhere here: clients do not care)."""
    workdir = tmp_path_factory.mktemp("deployed-nats")
    subprocess.run(
        ["sh", str(DEPLOY_NATS / "make-tls.sh"), str(workdir / "tls")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # The file as deployed, but for its store (a volume at /data on the real nodes).
    conf = workdir / "nats-cluster.conf"
    text = (DEPLOY_NATS / "nats-cluster.conf").read_text()
    assert "store_dir: /data" in text
    conf.write_text(text.replace("store_dir: /data", f'store_dir: "{workdir / "store"}"'))
    (workdir / "accounts.conf").write_text((DEPLOY_NATS / "accounts.conf").read_text())
    port = free_port()
    env = {natsauth.password_variable(u): pw for u, pw in PASSWORDS.items()}
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)]
        + ["-a", "127.0.0.1", "-p", str(port), "-m", str(free_port())]
        + ["--cluster", f"nats://127.0.0.1:{free_port()}"],
        cwd=workdir,
        env={**os.environ, **env, "NATS_SERVER_NAME": "nats-0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if port_open(port) or proc.poll() is not None:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert proc.poll() is None and port_open(port), "the deployed configuration did not start"
        yield port, workdir / "tls" / "ca.crt"
    finally:
        proc.kill()
        proc.wait()


def settings(port: int, ca: Path, user: str | None) -> Settings:
    return Settings(
        nats_url=f"nats://localhost:{port}",
        nats_user=user,
        nats_password=PASSWORDS.get(user or ""),
        nats_ca_file=ca,
    )


def test_a_part_connects_over_tls_as_its_own_user_and_publishes_its_own_subjects(
    deployed: tuple[int, Path], caplog: pytest.LogCaptureFixture
) -> None:
    port, ca = deployed

    async def run() -> None:
        nc = await connect(settings(port, ca, "projects"), name="test-projects")
        try:
            assert nc.is_connected
            await nc.publish("plantrack.domain.projects.ProjectRegistered", b"{}")
            await nc.flush()
            await nc.publish("plantrack.domain.enterprises.DesignationGranted", b"{}")
            await nc.flush()
            await asyncio.sleep(0.3)  # what the server refuses arrives asynchronously
        finally:
            await nc.close()

    with caplog.at_level(logging.WARNING, logger="plantrack.nats"):
        asyncio.run(run())
    refused = [
        r.getMessage().lower() for r in caplog.records if "violation" in r.getMessage().lower()
    ]
    assert len(refused) == 1, refused
    assert 'permissions violation for publish to "plantrack.domain.enterprises' in refused[0]


@pytest.mark.parametrize("how", ["no user", "wrong password", "no tls"])
def test_no_one_else_connects(deployed: tuple[int, Path], how: str) -> None:
    port, ca = deployed

    async def run() -> None:
        options: dict = {"connect_timeout": 2, "allow_reconnect": False}
        if how != "no tls":
            import ssl

            options["tls"] = ssl.create_default_context(cafile=ca)
        if how == "wrong password":
            options |= {"user": "projects", "password": "guess"}
        if how == "no tls":
            options |= {"user": "projects", "password": PASSWORDS["projects"]}
        nc = await nats.connect(f"nats://localhost:{port}", **options)
        await nc.close()

    with pytest.raises((NatsError, OSError)):
        asyncio.run(run())
