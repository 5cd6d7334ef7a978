"""Benchmark: import a ledger of enterprises with designations; rows/s on SQLite and PostgreSQL.

Usage: python bench/import_enterprises.py [--rows 10000] [--format xlsx|csv]
       [--pg postgresql://postgres@127.0.0.1:5432/test]   (PostgreSQL is skipped without --pg
       or PLANTRACK_TEST_PG_URL)
Each run imports into a fresh database (SQLite file / PostgreSQL schema) migrated to head, the
way the service does it: one transaction, history and outbox rows included; a second import of
the same file (every row unchanged) is timed too. Wall time depends on what else the machine
runs, so the CPU time of this process is shown beside it. The process collects garbage as the
service's does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

# Only the standard library at the top: the sheet is read in a worker process started from a
# fork server, and multiprocessing runs a script's top level again in every such worker (a
# service started as `python -m uvicorn` is not run again). Importing the services here would
# add a second of imports to every import measured, which the service never pays.

TODAY = date(2025, 6, 30)
TYPES = [("high_tech", "2023-11-30"), ("tech_sme", "2025-03-01"), ("gazelle", "2024-06-01")]


def uscc(n: int) -> str:
    from services.enterprises.uscc import check_character

    body = f"91370602{n:09d}"
    return body + check_character(body)


def ledger(rows: int, fmt: str) -> bytes:
    """`rows` enterprises, each with one designation, as the export would write them."""
    from services.common.spreadsheet import write_csv, write_xlsx
    from services.enterprises.ledger import COLUMNS

    data = [
        {
            "uscc": uscc(n),
            "name": f"烟台基准企业{n}有限公司",
            "industry_section": "CIM"[n % 3],
            "industry_chain": "信息技术",
            "sub_district": "只楚街道",
            "size": "small",
            "landed_on": "2023-04-01",
            "source_channel": "招商引资",
            "designation_type": TYPES[n % 3][0],
            "granted_on": TYPES[n % 3][1],
            "certificate_no": f"CERT{n}",
        }
        for n in range(rows)
    ]
    return write_xlsx(COLUMNS, data) if fmt == "xlsx" else write_csv(COLUMNS, data)


def sqlite_db() -> tuple[str, Callable[[], None]]:
    path = Path(tempfile.mkdtemp()) / "enterprises.db"
    return f"sqlite:///{path}", lambda: None


def pg_db(base: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def timed_import(engine: Any, content: bytes, filename: str) -> tuple[float, float, Any]:
    """One import in its own transaction: (wall seconds, CPU seconds of this process, result)."""
    from services.common.settings import Settings
    from services.common.unit_of_work import UnitOfWork
    from services.enterprises.importer import import_ledger

    settings = Settings(env="test", secret="x" * 40)
    wall, cpu = time.perf_counter(), time.process_time()
    with UnitOfWork(engine) as session:
        result = import_ledger(
            session,
            content=content,
            filename=filename,
            actor="bench",
            settings=settings,
            today=TODAY,
        )
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(kind: str, make_db: Callable[[], tuple[str, Callable[[], None]]], args: Any) -> None:
    """Best of `repeat` runs, each on a fresh database: a new import, then the same file again."""
    from services.common.db import make_engine, migrate
    from services.enterprises.app import MIGRATIONS

    content = ledger(args.rows, args.format)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        url, drop = make_db()
        engine = make_engine(url)
        try:
            migrate(engine, MIGRATIONS)
            for label in ("new", "unchanged"):
                wall, cpu, result = timed_import(engine, content, f"ledger.{args.format}")
                expected = args.rows if label == "new" else 0
                assert result.enterprises_created == expected, result
                if label not in best or wall < best[label][0]:
                    best[label] = (wall, cpu)
        finally:
            engine.dispose()
            drop()
    for label, (wall, cpu) in best.items():
        print(
            f"{kind:<10} {label:<9} {args.rows} rows {wall:5.2f} s = {args.rows / wall:5.0f} rows/s"
            f"  (CPU {cpu:5.2f} s = {args.rows / cpu:6.0f} rows/s per core)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--repeat", type=int, default=3, help="runs per database; best shown")
    parser.add_argument("--pg", default=os.environ.get("PLANTRACK_TEST_PG_URL"))
    args = parser.parse_args()
    from services.common.runtime import tune_gc

    tune_gc()  # as the services' startup does: the import runs under their GC thresholds
    size = len(ledger(args.rows, args.format)) / 1e6
    print(f"{args.rows} enterprises with one designation each, {args.format} ({size:.1f} MB)")
    run("sqlite", sqlite_db, args)
    if args.pg:
        run("postgresql", lambda: pg_db(args.pg), args)
    else:
        print("postgresql skipped (give --pg or set PLANTRACK_TEST_PG_URL)", file=sys.stderr)


if __name__ == "__main__":
    main()
