"""Benchmark: a filtered page of GET /api/v1/projects out of 100,000 projects on PostgreSQL.

Usage: python bench/list_projects.py [--projects 100000] [--requests 400]
       [--pg postgresql://postgres@127.0.0.1:5432/test]   (or PLANTRACK_TEST_PG_URL)
Seeds a fresh schema migrated to head (so the migration's indexes are what is measured), then
sends filtered list requests through the service's ASGI app in-process (auth, validation,
query, serialisation; no network) and prints p50 and p99 per filter and overall. Goal: p50 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from services.common.auth import issue_token
from services.common.contracts.stages import STAGE_ORDER
from services.common.db import make_engine, migrate
from services.common.natsserver import NatsServer
from services.common.settings import Settings
from services.common.unit_of_work import UnitOfWork
from services.projects.app import MIGRATIONS, create_app
from services.projects.catalogue import PROJECT_CATEGORIES, SUB_DISTRICTS
from services.projects.ledger import import_rows
from services.projects.models import Milestone

TODAY = "2025-06-30"
SECRET = "bench-" + "x" * 40
CATEGORIES = list(PROJECT_CATEGORIES)
FILTERS: dict[str, list[dict[str, Any]]] = {
    "stage": [{"stage": s} for s in STAGE_ORDER],
    "category+stage": [{"category": c, "stage": s} for c in CATEGORIES[:8] for s in STAGE_ORDER],
    "sub_district+stage": [{"sub_district": d, "stage": "building"} for d in SUB_DISTRICTS],
    "level, page 20": [{"level": "city", "offset": 1000}],
    "overdue": [{"overdue": "true"}],
    "q (name contains)": [{"q": f"项目{n}"} for n in (123, 4567, 89012)],
}


ENTRIES = {stage: STAGE_ORDER[: n + 1] for n, stage in enumerate(STAGE_ORDER)}
"""The stages a project has entered by the time it is in `stage`."""


def ledger_row(i: int) -> tuple[dict[str, Any], list[tuple[str, date]]]:
    """Project `i`, spread over categories, sub-districts, levels and stages."""
    created = date(2023, 1, 1) + timedelta(days=i % 700)
    values = {
        "name": f"芝罘区项目{i}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "code": f"2023-370602-47-01-{i:06d}",
        "level": ("province", "city", "district")[i % 3],
        "sub_district": SUB_DISTRICTS[i % len(SUB_DISTRICTS)],
        "lead_department": f"部门{i % 20}",
        "plan_clause": str(i % 100),
        "quantity": 1,
        "quantity_unit": None,
        "total_investment_wan": float(i % 9000),
        "planned_start": created + timedelta(days=30),
        "planned_completion": created + timedelta(days=400),
        "created_on": created,
    }
    stages = ENTRIES[STAGE_ORDER[(i // 7) % 4]]
    return values, [(s, created + timedelta(days=k * 20)) for k, s in enumerate(stages)]


def seed(url: str, n: int) -> None:
    """`n` projects through the import path, and an open milestone on every tenth."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS)
    day = date(2025, 1, 1)
    for start in range(0, n, 10_000):
        with UnitOfWork(engine) as session:
            ids = import_rows(
                session, [ledger_row(i) for i in range(start, min(n, start + 10_000))], actor="b"
            )
            session.execute(
                Milestone.__table__.insert(),
                [
                    {"project_id": pid, "kind": "start", "title": "开工", "version": 1,
                     "due_on": day - timedelta(days=pid % 400), "done_on": None,
                     "created_at": day, "updated_at": day}
                    for pid in ids[::10]
                ],
            )  # fmt: skip
    with UnitOfWork(engine) as session:  # what the service keeps in step on each write
        session.execute(
            text(
                "UPDATE project SET next_due_on = (SELECT min(due_on) FROM milestone m "
                "WHERE m.project_id = project.id AND m.done_on IS NULL)"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


async def measure(url: str, requests: int) -> None:
    store = Path(tempfile.mkdtemp())
    nats = NatsServer(store_dir=store).start()
    settings = Settings(
        env="test", secret=SECRET, projects_database_url=url, nats_url=nats.url, today=TODAY,
        data_dir=store, subject_prefix=f"b{uuid.uuid4().hex[:8]}",
        stream=f"B{uuid.uuid4().hex[:8]}", live_stream=f"BL{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    app = create_app(settings)
    token = issue_token(SECRET, "viewer")
    try:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 30)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                await run_filters(client, requests)
    finally:
        nats.stop()


async def run_filters(client: httpx.AsyncClient, requests: int) -> None:
    everything: list[float] = []
    per = max(20, requests // len(FILTERS))
    for name, variants in FILTERS.items():
        times: list[float] = []
        total = 0
        for k in range(per + 5):
            params = variants[k % len(variants)]
            started = time.perf_counter()
            r = await client.get("/api/v1/projects", params={"limit": 50, **params})
            elapsed = (time.perf_counter() - started) * 1000
            assert r.status_code == 200, r.text
            total = r.json()["total"]
            if k >= 5:  # the first few warm the caches and the connection pool
                times.append(elapsed)
        everything += times
        p50, p99 = pct(times, 50), pct(times, 99)
        print(f"{name:<20} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (total {total})")
    print(
        f"{'all filters':<20} p50 {pct(everything, 50):6.1f} ms  p99 {pct(everything, 99):6.1f} ms"
    )


def pct(values: list[float], p: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[p - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--pg", default=os.environ.get("PLANTRACK_TEST_PG_URL"))
    args = parser.parse_args()
    if not args.pg:
        raise SystemExit("give --pg or set PLANTRACK_TEST_PG_URL (the goal is on PostgreSQL)")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        args.pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}"
    try:
        started = time.perf_counter()
        seed(url, args.projects)
        print(f"seeded {args.projects} projects in {time.perf_counter() - started:.1f} s")
        asyncio.run(measure(url, args.requests))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
