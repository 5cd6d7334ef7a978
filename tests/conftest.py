"""Shared fixtures: private nats-servers, SQLite and PostgreSQL databases, service clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from services.common.auth import Role, issue_token
from services.common.natsserver import NatsServer
from services.common.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 40
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # In CI every PostgreSQL test must run: a missing database is a failure, not a skip.
    if os.environ.get("CI") and not os.environ.get("PLANTRACK_TEST_PG_URL"):
        os.environ["PLANTRACK_TEST_PG_URL"] = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One private JetStream server for the session (tests that kill a broker make their own)."""
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A private server this test may stop, kill and restart at will."""
    server = NatsServer(store_dir=tmp_path / "nats").start()
    yield server
    server.kill()


def pg_base_url() -> str:
    url = os.environ.get("PLANTRACK_TEST_PG_URL")
    if not url:
        pytest.skip("PLANTRACK_TEST_PG_URL is not set (CI sets it; PostgreSQL tests run there)")
    return url


def make_pg_schema(base: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema for one test: a URL whose search_path is that schema, and its dropper."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        pg_base_url()
    return request.param


@pytest.fixture
def database_url_factory(tmp_path: Path, db_kind: str) -> Iterator[Callable[[str], str]]:
    """Gives each named service its own database of the parametrised kind."""
    droppers: list[Callable[[], None]] = []

    def make(name: str) -> str:
        if db_kind == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        url, drop = make_pg_schema(pg_base_url())
        droppers.append(drop)
        return url

    yield make
    for drop in droppers:
        drop()


@pytest.fixture
def settings_factory(tmp_path: Path, nats_server: NatsServer) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path / "data",
            "nats_url": nats_server.url,
            "secret": TEST_SECRET,
            # each test gets its own streams, so tests sharing the server never see each other
            "subject_prefix": f"t{uuid.uuid4().hex[:10]}",
            "stream": f"T{uuid.uuid4().hex[:10]}",
            "live_stream": f"L{uuid.uuid4().hex[:10]}",
            # JetStream reserves a stream's byte limit from the server's store up front: hundreds
            # of tests' live streams at the production 256 MB would exhaust the shared server's
            # ("insufficient storage resources") and every later test could not set up.
            "live_stream_max_bytes": 8 * 1024 * 1024,
            "relay_interval_seconds": 0.01,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def tokens() -> dict[str, str]:
    return {r.value: issue_token(TEST_SECRET, r, subject=f"{r.value}-tester") for r in Role}


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, behind an in-process httpx client.

    The client asks for English messages, which most assertions read; tests of the Chinese
    wording (the default for callers that do not ask) send their own Accept-Language.
    """
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"Accept-Language": "en"}
        ) as client:
            yield client
