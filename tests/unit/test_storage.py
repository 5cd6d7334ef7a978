"""A full disk is recognised wherever it surfaces, and SQLite's WAL cannot only grow."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from services.common import db
from services.common.storage import Storage, is_disk_full


def sqlite_full() -> sqlite3.OperationalError:
    err = sqlite3.OperationalError("database or disk is full")
    err.sqlite_errorcode = 13  # type: ignore[attr-defined]
    return err


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite_full(),
        sa_exc.OperationalError("INSERT …", {}, sqlite_full()),
        psycopg.errors.DiskFull("could not extend file: No space left on device"),
        sa_exc.OperationalError("INSERT …", {}, psycopg.errors.DiskFull("could not extend")),
    ],
    ids=["os", "sqlite", "sqlalchemy-sqlite", "postgresql", "sqlalchemy-postgresql"],
)
def test_a_full_disk_is_recognised_wherever_it_surfaces(error: BaseException) -> None:
    assert is_disk_full(error)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ECONNREFUSED, "Connection refused"),
        sqlite3.OperationalError("database is locked"),
        sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
        ValueError("no"),
    ],
)
def test_other_failures_are_not_taken_for_a_full_disk(error: BaseException) -> None:
    assert not is_disk_full(error)


def test_storage_is_not_ready_after_a_disk_full_error_or_below_the_free_space(
    tmp_path: Path,
) -> None:
    fine = Storage(tmp_path, min_free_bytes=1)
    assert fine.check()["ready"] and fine.check()["free_bytes"] > 0
    fine.noted_full()
    assert fine.check() == {**fine.check(), "ready": False, "error": "disk full"}
    starved = Storage(tmp_path, min_free_bytes=1 << 62)
    assert starved.check()["ready"] is False and starved.check()["error"] == "disk full"


def test_sqlite_truncates_its_wal_after_checkpoints(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
    assert limit == db.WAL_SIZE_LIMIT_BYTES
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    for _ in range(20):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (randomblob(100000))"))
    wal = tmp_path / "w.db-wal"
    assert wal.stat().st_size > 1_000_000
    busy, _, _ = db.checkpoint(engine)
    assert busy == 0
    assert wal.stat().st_size == 0, "the periodic checkpoint leaves an empty WAL"
    engine.dispose()
