"""Databases: one per service, SQLite (WAL) by default or PostgreSQL by URL; own migrations."""

from __future__ import annotations

import logging
import os
import sqlite3
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import registry

from services.common.settings import PRIVATE_FILE_MODE

log = logging.getLogger("plantrack.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_registry() -> registry:
    """A registry with its own metadata, so each service's Alembic sees only its tables."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""After a checkpoint SQLite truncates the WAL file back to this size, so it cannot only grow."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def make_private(path: Path) -> None:
    """A SQLite database (and its WAL and shared-memory files) readable by this user only.
    Made before SQLite opens it: SQLite gives the WAL the database file's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    os.close(fd)
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if each.exists() and each.stat().st_mode & 0o077:
            each.chmod(PRIVATE_FILE_MODE)


CHECKPOINT_SECONDS = 60.0
"""How often a SQLite database's WAL is checkpointed and truncated to nothing."""


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """Copy the WAL into the database and truncate it to zero bytes: (busy, wal pages,
    pages copied), as SQLite reports; busy means a reader held it and it is retried later."""
    raw = engine.raw_connection()  # outside a transaction, which a checkpoint cannot run in
    try:
        row = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    return int(row[0]), int(row[1]), int(row[2])


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            make_private(path)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            # Autocommit at the driver level; SQLAlchemy's "begin" listener below issues
            # BEGIN IMMEDIATE so concurrent writers queue instead of failing on upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint (and sync) every ~40 MB of WAL rather than every 4 MB: bulk writers
            # such as the roll-up consumer then spend a third less time committing.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            deferred = conn.get_execution_options().get("sqlite_deferred", False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
    )


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions do not take the write lock."""
    return engine.execution_options(sqlite_deferred=True)


SQLITE_ROWS = 500
"""Rows per multi-row statement on SQLite (fewer when the connection's variable limit says so)."""


def sqlite_insert_rows(
    conn: Connection, head: str, width: int, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """SQLite: `head VALUES (?, …), (?, …) tail` for many rows in as few statements as the
    variable limit allows. One such statement runs in one step, where executemany steps, and
    hands the GIL back and forth, once per row; its SQL is built once per row count."""
    limit = conn.connection.dbapi_connection.getlimit(  # type: ignore[union-attr]
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
    )
    per = max(1, min(SQLITE_ROWS, limit // width))
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        params = tuple(value for row in part for value in row)
        conn.exec_driver_sql(_values_sql(head, width, len(part), tail), params)


@lru_cache(maxsize=256)
def _values_sql(head: str, width: int, count: int, tail: str) -> str:
    row = "(" + ", ".join(["?"] * width) + ")"
    return f"{head} VALUES {', '.join([row] * count)} {tail}".rstrip()


def alembic_config(migrations_dir: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, migrations_dir: Path, revision: str = "head") -> None:
    """Apply the service's migrations; replicas starting together take turns (advisory lock)."""
    cfg = alembic_config(migrations_dir, str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            lock_key = zlib.crc32(migrations_dir.parent.name.encode()) % (2**31)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, migrations_dir: Path, revision: str = "base") -> None:
    cfg = alembic_config(migrations_dir, str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def run_migrations_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    from alembic import context

    config = context.config
    conn = config.attributes.get("connection")
    if conn is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run(context, conn, target_metadata)
        engine.dispose()
    else:
        _run(context, conn, target_metadata)


def _run(context: Any, conn: Any, target_metadata: MetaData) -> None:
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
