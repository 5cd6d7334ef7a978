"""Benchmark: import a ledger of projects, then its export unchanged; rows/s on SQLite and PG.

Goals: a new ledger ≥ 2,000 rows/s; the unchanged re-import of an export ≥ 5,000 rows/s.

Usage: python bench/import_projects.py [--rows 10000] [--format xlsx|csv]
       [--pg postgresql://postgres@127.0.0.1:5432/test]   (PostgreSQL is skipped without --pg
       or PLANTRACK_TEST_PG_URL)
Each run imports into a fresh database (SQLite file / PostgreSQL schema) migrated to head, the
way POST /api/v1/projects/import does: every row checked first, then projects, stage entries,
history and one ProjectRegistered outbox row per project in one transaction. It then exports
the ledger (.xlsx, with ids and versions) and imports that file back: every row is compared
with its project and nothing is written. The process collects garbage as the service's does.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

# Only the standard library at the top: the sheet is read in a worker process started from a
# fork server, and multiprocessing runs a script's top level again in every such worker (a
# service started as `python -m uvicorn` is not run again). Importing the services here would
# add a second of imports to every import measured, which the service never pays.

TODAY = date(2025, 6, 30)


def ledger(rows: int, fmt: str) -> bytes:
    """`rows` projects across categories, sub-districts and stages, as the export writes them."""
    from services.common.spreadsheet import write_csv, write_xlsx
    from services.projects.catalogue import PROJECT_CATEGORIES, SUB_DISTRICTS
    from services.projects.ledger import COLUMNS

    categories = [k for k, c in PROJECT_CATEGORIES.items() if c.unit]
    data = []
    for n in range(rows):
        created = date(2023, 1, 1) + timedelta(days=n % 500)
        row = {
            "name": f"芝罘区基准项目{n}",
            "category": categories[n % len(categories)],
            "code": f"2023-370602-{n % 90 + 10:02d}-01-{n:06d}",
            "level": ("province", "city", "district")[n % 3],
            "sub_district": SUB_DISTRICTS[n % len(SUB_DISTRICTS)],
            "lead_department": "区发展和改革局",
            "plan_clause": "50",
            "quantity": n % 7 + 1,
            "total_investment_wan": round(n * 13.7 % 50000, 2),
            "planned_start": created + timedelta(days=60),
            "planned_completion": created + timedelta(days=600),
            "created_on": created,
            "reserve_on": created,
        }
        if n % 2:
            row["starting_on"] = created + timedelta(days=70)
        if n % 4 == 3:
            row["building_on"] = created + timedelta(days=90)
        data.append(row)
    return write_xlsx(COLUMNS, data) if fmt == "xlsx" else write_csv(COLUMNS, data)


def sqlite_db() -> tuple[str, Callable[[], None]]:
    path = Path(tempfile.mkdtemp()) / "projects.db"
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


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_cpu_seconds() -> float:
    """CPU time of the finished sheet-reading workers: the fork server forks and reaps them, so
    it is counted in the fork server's children's times (/proc/PID/stat, fields 16 and 17)."""
    from multiprocessing import forkserver

    pid = forkserver._forkserver._forkserver_pid  # noqa: SLF001 - no public way to ask
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def run(kind: str, url: str, content: bytes, filename: str, rows: int) -> None:
    from sqlalchemy import func, select

    from services.common.db import make_engine, migrate
    from services.common.unit_of_work import UnitOfWork
    from services.projects.app import MIGRATIONS
    from services.projects.importer import import_ledger
    from services.projects.ledger import export_sheet
    from services.projects.models import outbox

    engine = make_engine(url)
    migrate(engine, MIGRATIONS)

    def timed(what: str, data: bytes, name: str, goal: int) -> dict:
        started, cpu, worker = time.perf_counter(), cpu_seconds(), worker_cpu_seconds()
        with UnitOfWork(engine) as session:
            result = import_ledger(session, data, name, actor="bench", today=TODAY)
        seconds = time.perf_counter() - started
        cpu, worker = cpu_seconds() - cpu, worker_cpu_seconds() - worker
        # On a shared machine the wall clock waits for other processes: the load average says
        # how loaded it was, and rows per CPU second (this process and the sheet-reading
        # worker; not the database server) what the import costs whatever the load.
        print(
            f"{kind:<10} {what:<9} {rows} rows in {seconds:6.2f} s = {rows / seconds:6.0f} rows/s"
            f"  (goal ≥ {goal:,}); load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs;"
            f" CPU {cpu:.2f} s + worker {worker:.2f} s = {rows / (cpu + worker):6.0f} rows/CPU s"
        )
        return result

    def events() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox)).scalar_one()

    result = timed("new", content, filename, 2_000)
    before = events()
    print(f"{'':<10} {result['created']} projects created, {before} events")
    with UnitOfWork(engine) as session:
        exported = export_sheet(session, [], "xlsx")
    result = timed("unchanged", exported, "ledger.xlsx", 5_000)
    print(
        f"{'':<10} created {result['created']}, updated {result['updated']},"
        f" unchanged {result['unchanged']}; {events() - before} events"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--pg", default=os.environ.get("PLANTRACK_TEST_PG_URL"))
    args = parser.parse_args()
    from services.common.runtime import tune_gc

    tune_gc()  # as the services' startup does: the import runs under their GC thresholds
    content = ledger(args.rows, args.format)
    filename = f"ledger.{args.format}"
    print(f"{args.rows} rows, {args.format}, {len(content) / 1e6:.1f} MB")
    url, drop = sqlite_db()
    run("sqlite", url, content, filename, args.rows)
    drop()
    if args.pg:
        url, drop = pg_db(args.pg)
        try:
            run("postgresql", url, content, filename, args.rows)
        finally:
            drop()
    else:
        print("postgresql skipped (give --pg or set PLANTRACK_TEST_PG_URL)", file=sys.stderr)


if __name__ == "__main__":
    main()
