"""The embedded broker is not open to every local user: no connection without a user, and each
part's user may publish only its own subjects; the pipeline works through these rules."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Iterator

import httpx
import nats
import pytest
from nats.errors import Error as NatsError

from services.common import natsauth
from services.common.auth import Role, issue_token
from services.supervisor import Supervisor
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import free_port_block

TODAY = "2025-06-30"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """`up`'s own layout: an embedded nats-server, configured by the supervisor."""
    sup = Supervisor(
        data_dir=tmp_path_factory.mktemp("guarded"),
        port=free_port_block(),
        extra_env={
            "PLANTRACK_ENV": "test",
            "PLANTRACK_SECRET": TEST_SECRET,
            "PLANTRACK_TODAY": TODAY,
            "PLANTRACK_RELAY_INTERVAL_SECONDS": "0.01",
        },
    )
    try:
        sup.start()
        sup.wait_ready(90)
        yield sup
    finally:
        sup.stop()


def broker(sup: Supervisor) -> str:
    return sup.nats_servers[0].url


async def connect(sup: Supervisor, user: str | None, errors: list[str]) -> nats.aio.client.Client:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    password = natsauth.credentials(sup.data_dir)[user] if user else None
    return await nats.connect(
        broker(sup),
        user=user,
        password=password,
        allow_reconnect=False,
        connect_timeout=2,
        error_cb=on_error,
    )


def test_a_client_without_credentials_cannot_connect(guarded: Supervisor) -> None:
    errors: list[str] = []
    with pytest.raises((NatsError, OSError)):
        asyncio.run(connect(guarded, None, errors))
    assert any("authorization violation" in e.lower() for e in errors), errors


def test_the_credentials_are_private_files_in_the_data_dir(guarded: Supervisor) -> None:
    for name in (natsauth.CREDENTIALS_FILE, natsauth.CONFIG_FILE):
        assert stat.S_IMODE((guarded.data_dir / name).stat().st_mode) == 0o600, name
    users = json.loads((guarded.data_dir / natsauth.CREDENTIALS_FILE).read_text())
    assert set(users) == set(natsauth.USERS)
    assert len(set(users.values())) == len(users), "one password per part"


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("projects", "plantrack.domain.enterprises.DesignationGranted"),
        ("projects", "plantrack.live.target.schools"),
        ("enterprises", "plantrack.domain.projects.ProjectRegistered"),
        ("gateway", "plantrack.domain.projects.ProjectRegistered"),
        ("gateway", "plantrack.live.target.schools"),
        ("events", "plantrack.domain.projects.ProjectRegistered"),
    ],
)
def test_a_part_cannot_publish_what_another_part_owns(
    guarded: Supervisor, user: str, subject: str
) -> None:
    errors: list[str] = []

    async def forge() -> None:
        nc = await connect(guarded, user, errors)
        js = nc.jetstream()
        try:
            with pytest.raises(NatsError):
                await js.publish(subject, b'{"forged": true}', timeout=1)
        finally:
            await nc.close()

    asyncio.run(forge())
    refused = f'permissions violation for publish to "{subject}"'.lower()
    assert any(refused in e.lower() for e in errors), errors


def test_a_part_cannot_read_the_domain_stream_it_does_not_consume(guarded: Supervisor) -> None:
    errors: list[str] = []

    async def snoop() -> None:
        nc = await connect(guarded, "projects", errors)
        try:
            with pytest.raises(NatsError):
                await nc.jetstream().subscribe("plantrack.domain.>", stream="PLANTRACK")
        finally:
            await nc.close()

    asyncio.run(snoop())
    assert any("permissions violation" in e.lower() for e in errors), errors


def test_the_pipeline_and_a_replay_work_under_the_permissions(guarded: Supervisor) -> None:
    gateway = guarded.url("gateway")
    headers = {"Authorization": f"Bearer {issue_token(TEST_SECRET, Role.project_office)}"}
    body = {"name": "芝罘区权限测试学校", "category": "school", "created_on": "2023-01-10"}
    created = httpx.post(f"{gateway}/api/v1/projects", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    for to, on in (("starting", "2023-03-01"), ("building", "2023-05-01"), ("built", "2024-09-01")):
        r = httpx.post(
            f"{gateway}/api/v1/projects/{pid}/transitions",
            json={"to": to, "on": on},
            headers=headers,
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text
    deadline = time.monotonic() + 30
    while True:
        target = httpx.get(f"{gateway}/api/v1/targets/schools", headers=headers, timeout=10)
        counted = [c["id"] for c in target.json()["contributors"]]
        if counted == [pid] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert counted == [pid]
    admin = {"Authorization": f"Bearer {issue_token(TEST_SECRET, Role.admin)}"}
    replayed = httpx.post(f"{gateway}/api/v1/admin/replay", headers=admin, timeout=120)
    assert replayed.status_code < 300, replayed.text  # reads the whole domain stream again
    target = httpx.get(f"{gateway}/api/v1/targets/schools", headers=headers, timeout=10)
    assert [c["id"] for c in target.json()["contributors"]] == [pid]
    for log in ("projects", "events", "gateway", "nats"):
        text = (guarded.log_dir / f"{log}.log").read_text()
        assert "Permissions Violation" not in text, f"{log} was refused something it needs"
