"""The whole system as real processes: three services and the gateway under the supervisor."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.auth import Role, issue_token
from services.common.natsserver import NatsServer, port_open
from services.common.settings import SERVICES
from services.supervisor import OFFSETS, Supervisor
from tests.conftest import TEST_SECRET

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def free_port_block(size: int = max(OFFSETS.values()) + 1) -> int:
    """A base port with the next `size - 1` ports free too (the supervisor's layout)."""
    for _ in range(200):
        base = random.randint(20_000, 32_000)  # below the kernel's ephemeral range
        if not any(port_open(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


@dataclass
class System:
    sup: Supervisor
    nats_url: str

    @property
    def url(self) -> str:
        return self.sup.url("gateway")

    def service_url(self, name: str) -> str:
        return self.sup.url(name)

    def token(self, role: str | Role, subject: str | None = None) -> str:
        return issue_token(TEST_SECRET, role, subject=subject or f"e2e-{Role(role).value}")

    def headers(self, role: str | Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def openapi(self, service: str) -> dict:
        return httpx.get(self.service_url(service) + "/openapi.json", timeout=10).json()

    def has_route(self, service: str, path: str) -> bool:
        return path in self.openapi(service).get("paths", {})

    def kill(self, name: str) -> None:
        proc = self.sup.procs.pop(name)
        proc.kill()
        proc.wait()

    def restart(self, name: str) -> None:
        self.sup.start_app(name, self.sup.env(self.nats_url))
        self.sup.wait_ready(60)


def start_system(base_dir: Path, nats: NatsServer, **env: str) -> System:
    tag = uuid.uuid4().hex[:10]
    extra_env = {
        "PLANTRACK_ENV": "test",
        "PLANTRACK_SECRET": TEST_SECRET,
        # Own streams on the shared test broker, so systems never see each other's events.
        "PLANTRACK_SUBJECT_PREFIX": f"e{tag}",
        "PLANTRACK_STREAM": f"E{tag}",
        "PLANTRACK_LIVE_STREAM": f"EL{tag}",
        "PLANTRACK_LIVE_STREAM_MAX_BYTES": str(8 * 1024 * 1024),  # see tests/conftest.py
        "PLANTRACK_RELAY_INTERVAL_SECONDS": "0.01",
        **env,
    }
    for attempt in range(3):
        sup = Supervisor(
            data_dir=base_dir, port=free_port_block(), nats_url=nats.url, extra_env=extra_env
        )
        try:
            sup.start()
            sup.wait_ready(90)
            return System(sup=sup, nats_url=nats.url)
        except RuntimeError:
            # a port of the block was taken between the check and the bind: try another block
            sup.stop()
            if attempt == 2:
                raise
        except BaseException:
            sup.stop()
            raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[System]:
    """One running system for the module (its tests may kill and restart a service)."""
    running = start_system(tmp_path_factory.mktemp("system"), nats_server)
    yield running
    running.sup.stop()


def require_events_rollups(system: System) -> None:
    """Tests of live targets need the events service's roll-ups (its summary route)."""
    assert system.has_route("events", "/api/v1/targets/summary"), "events serves no summary"


__all__ = ["ARTIFACTS", "SERVICES", "System", "require_events_rollups", "start_system"]
