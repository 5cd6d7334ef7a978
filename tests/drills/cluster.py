"""The drills' system: 3 routed nats-servers, R3 streams, PostgreSQL, 2 replicas per service."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js.api import StreamInfo
from sqlalchemy import Connection, Engine, create_engine, text

from services.common.auth import Role, issue_token
from services.common.natsserver import NatsServer, port_open
from services.common.settings import SERVICES
from services.events.consumer import ROLLUP_CONSUMER
from services.supervisor import OFFSETS, Supervisor
from tests.conftest import TEST_SECRET, make_pg_schema

REPLICAS = 2
NATS_NODES = 3
TODAY = "2025-06-30"
"""The business date every process runs on, so transitions and grants land in the plan window."""

STREAM = "PLANTRACK"


def free_port_block(replicas: int) -> int:
    """A base port whose supervisor layout (base + offset + 10 × replica) is entirely free."""
    wanted = [o + 10 * r for r in range(replicas) for o in OFFSETS.values() if r == 0 or o]
    for _ in range(200):
        base = random.randint(20_000, 32_000)  # below the kernel's ephemeral range
        if not any(port_open(base + p) for p in wanted):
            return base
    raise RuntimeError("no free block of ports for the supervisor")


def with_app_name(url: str, name: str) -> str:
    """The URL with an application_name, so the drill can find (and kill) exactly its sessions."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}application_name={name}"


@dataclass
class Databases:
    """One PostgreSQL schema per service in the test database, tagged by application_name."""

    base_url: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    urls: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, str] = field(default_factory=dict)
    droppers: list[Callable[[], None]] = field(default_factory=list)
    engine: Engine | None = None

    @property
    def app_prefix(self) -> str:
        return f"plantrack-drill-{self.tag}-svc"

    def create(self) -> Databases:
        for name in SERVICES:
            url, drop = make_pg_schema(self.base_url)
            self.droppers.append(drop)
            self.schemas[name] = url.rsplit("search_path%3D", 1)[1]
            self.urls[name] = with_app_name(url, f"{self.app_prefix}-{name}")
        checker = with_app_name(self.base_url, f"plantrack-drill-{self.tag}-check")
        self.engine = create_engine(checker.replace("postgresql://", "postgresql+psycopg://", 1))
        return self

    def env(self) -> dict[str, str]:
        return {f"PLANTRACK_{n.upper()}_DATABASE_URL": u for n, u in self.urls.items()}

    def terminate_services(self) -> int:
        """pg_terminate_backend every session of this drill's services (never anyone else's)."""
        assert self.engine is not None
        with self.engine.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND application_name LIKE :prefix"
                ),
                {"prefix": f"{self.app_prefix}-%"},
            ).scalar_one()
        return int(killed or 0)

    def sessions(self) -> int:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE :prefix"
                    ),
                    {"prefix": f"{self.app_prefix}-%"},
                ).scalar_one()
            )

    def lock_rollups(self) -> Connection:
        """Hold the events roll-up state row (FOR UPDATE) in an open transaction.

        Every consumer batch takes that row FOR SHARE after writing its inbox rows, so while
        this is held each events replica that fetched a batch waits inside its transaction:
        a kill then lands mid-batch for certain. Roll the returned connection back to release.
        """
        assert self.engine is not None
        conn = self.engine.connect()
        conn.execute(
            text(f'SELECT 1 FROM "{self.schemas["events"]}".rollup_state WHERE id = 1 FOR UPDATE')
        )
        return conn

    def waiting_on_locks(self, service: str) -> int:
        """Sessions of the service blocked on a lock right now."""
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                        "AND wait_event_type = 'Lock'"
                    ),
                    {"name": f"{self.app_prefix}-{service}"},
                ).scalar_one()
            )

    def drop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        for drop in self.droppers:
            drop()


@dataclass
class DrillSystem:
    """The running system and the handles a drill needs to hurt it."""

    sup: Supervisor
    dbs: Databases
    nats_url: str

    @property
    def nodes(self) -> list[NatsServer]:
        return self.sup.nats_servers

    def node(self, name: str) -> NatsServer:
        return next(s for s in self.nodes if s.name == name)

    def replica_urls(self, service: str) -> list[str]:
        """Every replica's base URL (the supervisor runs one gateway)."""
        replicas = 1 if service == "gateway" else self.sup.replicas
        return [self.sup.url(service, r) for r in range(replicas)]

    def proc_key(self, service: str, replica: int) -> str:
        return service if replica == 0 else f"{service}-{replica}"

    def token(self, role: Role = Role.admin) -> str:
        return issue_token(TEST_SECRET, role, subject=f"drill-{role.value}", ttl_seconds=3600)

    def headers(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def sigkill(self, service: str, replica: int) -> int:
        proc = self.sup.procs.pop(self.proc_key(service, replica))
        proc.kill()
        proc.wait()
        return proc.pid

    def restart(self, service: str, replica: int) -> None:
        self.sup.start_app(service, self.sup.env(self.nats_url), replica)

    def wait_replicas_ready(self, timeout: float = 90.0) -> None:
        """Every replica of every service answers /readyz 200 (database and NATS)."""
        deadline = time.monotonic() + timeout
        pending = {u for s in SERVICES for u in self.replica_urls(s)}
        while pending and time.monotonic() < deadline:
            for key, proc in self.sup.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{key} exited with {proc.returncode}; see its log")
            for url in list(pending):
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        pending.discard(url)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready within {timeout}s: {sorted(pending)}")

    def counted(self, service: str, metric: str) -> list[float]:
        """A Prometheus counter summed over its labels, per replica of the service."""
        out = []
        for url in self.replica_urls(service):
            lines = httpx.get(url + "/metrics", timeout=5).text.splitlines()
            out.append(sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith(metric + "{")))
        return out

    async def connect(self) -> Client:
        return await nats.connect(
            servers=self.nats_url.split(","),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=2,
        )


def start_drill_system(base_dir: Path, pg_url: str, **env: str) -> DrillSystem:
    """3 nats-servers (streams at R3), three services × 2 replicas on PostgreSQL, the gateway."""
    dbs = Databases(pg_url).create()
    extra = {
        "PLANTRACK_ENV": "test",
        "PLANTRACK_SECRET": TEST_SECRET,
        "PLANTRACK_TODAY": TODAY,
        "PLANTRACK_RELAY_INTERVAL_SECONDS": "0.02",
        # a killed replica's unacknowledged batch returns to the survivor after this long
        "PLANTRACK_CONSUMER_ACK_WAIT_SECONDS": "5",
        # 6 service processes share the test server's connection budget with other suites
        "PLANTRACK_DB_POOL_SIZE": "3",
        **dbs.env(),
        **env,
    }
    sup = Supervisor(
        data_dir=base_dir,
        port=free_port_block(REPLICAS),
        nats_cluster=NATS_NODES,
        replicas=REPLICAS,
        extra_env=extra,
    )
    system = DrillSystem(sup=sup, dbs=dbs, nats_url="")
    try:
        sup.start()
        system.nats_url = ",".join(s.url for s in sup.nats_servers)
        sup.wait_ready(120)
        system.wait_replicas_ready(120)
    except BaseException:
        sup.stop(timeout=5)
        dbs.drop()
        raise
    return system


def stop_drill_system(system: DrillSystem) -> None:
    system.sup.stop(timeout=5)  # the events service takes 30 s to drain NATS on SIGTERM
    system.dbs.drop()


# --- JetStream views ----------------------------------------------------------------------


async def stream_info(nc: Client, stream: str = STREAM) -> StreamInfo:
    return await nc.jetstream(timeout=2).stream_info(stream)


async def wait_stream_whole(nc: Client, *, timeout: float = 60.0, stream: str = STREAM) -> str:
    """Wait until the stream has a leader and every replica is current; returns the leader."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            info = await stream_info(nc, stream)
            cluster = info.cluster
            last = cluster
            peers = (cluster.replicas or []) if cluster else []
            if (
                cluster is not None
                and cluster.leader
                and len(peers) == NATS_NODES - 1
                and all(p.current and not p.offline for p in peers)
            ):
                return cluster.leader
        except Exception as exc:  # no leader yet: JetStream answers with errors meanwhile
            last = exc
        await asyncio.sleep(0.2)
    raise TimeoutError(f"stream {stream} not whole within {timeout}s: {last}")


async def wait_new_leader(nc: Client, old: str, *, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            leader = (await stream_info(nc)).cluster.leader  # type: ignore[union-attr]
            if leader and leader != old:
                return leader
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no new stream leader within {timeout}s")


async def ack_pending(nc: Client) -> int:
    info = await nc.jetstream(timeout=2).consumer_info(STREAM, ROLLUP_CONSUMER)
    return int(info.num_ack_pending or 0)


async def redeliveries(nc: Client) -> int:
    """Deliveries of the roll-up consumer beyond the first of each message, since it was made."""
    info = await nc.jetstream(timeout=2).consumer_info(STREAM, ROLLUP_CONSUMER)
    assert info.delivered is not None
    return int(info.delivered.consumer_seq or 0) - int(info.delivered.stream_seq or 0)
