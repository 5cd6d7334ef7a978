"""A full disk, told apart from every other failure: recognised in any error, remembered for
readiness, and answered as 507 Insufficient Storage."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

DISK_FULL_SQLSTATE = "53100"  # PostgreSQL: disk_full
SQLITE_FULL = 13
REMEMBER_SECONDS = 10.0
"""How long a disk-full error keeps readiness down after the last one (a write may succeed
now and then on a nearly full disk; the disk is not fine until it stops failing)."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or anything it wraps, says the disk is full (SQLite, PostgreSQL, the OS)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and (
            getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
            or "database or disk is full" in str(exc)
        ):
            return True
        if getattr(exc, "sqlstate", None) == DISK_FULL_SQLSTATE:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


class Storage:
    """Whether this process can write: the free space where its files are (when they are
    local), and the last disk-full error it met."""

    def __init__(self, path: Path | None, min_free_bytes: int) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.full_at: float | None = None

    def noted_full(self) -> None:
        self.full_at = time.monotonic()

    def check(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ready": True}
        if self.path is not None:
            try:
                free = shutil.disk_usage(self.path).free
            except OSError:
                free = None
            if free is not None:
                out["free_bytes"] = free
                if free < self.min_free_bytes:
                    out.update(ready=False, error="disk full")
        if self.full_at is not None and time.monotonic() - self.full_at < REMEMBER_SECONDS:
            out.update(ready=False, error="disk full")
        return out
