"""Benchmark: the ledger page's data (GET /api/v1/projects/ledger) for a filtered page out of
100,000 projects on PostgreSQL, beside the bare GET /api/v1/projects for the same filter.

Usage: python bench/workbench.py [--projects 100000] [--requests 60]
       [--pg postgresql://postgres@127.0.0.1:5432/test]   (or PLANTRACK_TEST_PG_URL)
Seeds a fresh schema as bench/list_projects.py does (an open milestone on every tenth project)
and adds an open blocker to every 25th, then sends what the ledger page sends — its filters,
a sort by a column, 20 or 100 rows — to the service's ASGI app in-process (auth, validation,
queries, serialisation; no network). Goal: the ledger page's data p50 < 50 ms, p99 < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from list_projects import SECRET, TODAY, pct, seed
from sqlalchemy import create_engine, text

from services.common.auth import issue_token
from services.common.db import make_engine
from services.common.natsserver import NatsServer
from services.common.settings import Settings
from services.common.unit_of_work import UnitOfWork
from services.projects.app import create_app
from services.projects.catalogue import SUB_DISTRICTS
from services.projects.models import Blocker

# What a clerk picks in the filter bar; each is sent to both endpoints.
FILTERS: dict[str, list[dict[str, Any]]] = {
    "no filter, 20 rows": [{"limit": 20}],
    "stage, 100 rows": [{"stage": s, "limit": 100} for s in ("building", "starting")],
    "sub_district+stage, sorted": [
        {"sub_district": d, "stage": "building", "sort": "-total_investment_wan", "limit": 20}
        for d in SUB_DISTRICTS
    ],
    "category+level, page 5": [
        {"category": c, "level": "city", "offset": 80, "limit": 20}
        for c in ("school", "road", "pocket_park")
    ],
    "overdue, by due date": [{"overdue": "true", "sort": "next_due_on", "limit": 20}],
    "has open blockers": [{"has_open_blockers": "true", "limit": 20}],
    "search, 20 rows": [{"q": f"项目{n}", "limit": 20} for n in (123, 4567, 89012)],
}


def add_blockers(url: str, n: int) -> None:
    """An open blocker on every 25th project (resolved ones would not show)."""
    engine = make_engine(url)
    day = date(2025, 3, 1)
    with UnitOfWork(engine) as session:
        session.execute(
            Blocker.__table__.insert(),
            [
                {"project_id": pid, "kind": "land", "description": "用地未落实", "version": 1,
                 "raised_on": day, "due_on": day + timedelta(days=pid % 200),
                 "created_at": day, "updated_at": day}
                for pid in range(1, n + 1, 25)
            ],
        )  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE blocker"))
    engine.dispose()


async def compare(client: httpx.AsyncClient, requests: int) -> tuple[list[float], list[float]]:
    page_all: list[float] = []
    bare_all: list[float] = []
    print(f"{'filter':<28} {'ledger page p50':>15} {'p99':>8}   {'bare list p50':>13} {'p99':>8}")
    for name, variants in FILTERS.items():
        times: dict[str, list[float]] = {"ledger": [], "bare": []}
        total = 0
        for k in range(requests + 5):
            params = variants[k % len(variants)]
            for kind, path in (("ledger", "/api/v1/projects/ledger"), ("bare", "/api/v1/projects")):
                started = time.perf_counter()
                r = await client.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                assert r.status_code == 200, r.text
                total = r.json()["total"]
                if k >= 5:  # the first few warm the caches and the connection pool
                    times[kind].append(elapsed)
        page_all += times["ledger"]
        bare_all += times["bare"]
        print(
            f"{name:<28} {pct(times['ledger'], 50):12.1f} ms {pct(times['ledger'], 99):5.1f} ms"
            f"   {pct(times['bare'], 50):10.1f} ms {pct(times['bare'], 99):5.1f} ms"
            f"  (total {total})"
        )
    return page_all, bare_all


async def measure(url: str, requests: int) -> None:
    store_dir = Path(tempfile.mkdtemp())
    nats = NatsServer(store_dir=store_dir).start()
    settings = Settings(
        env="test", secret=SECRET, projects_database_url=url, nats_url=nats.url, today=TODAY,
        data_dir=store_dir, subject_prefix=f"b{uuid.uuid4().hex[:8]}",
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
                page_all, bare_all = await compare(client, requests)
    finally:
        nats.stop()
    p50, p99 = pct(page_all, 50), pct(page_all, 99)
    print(
        f"{'all filters':<28} {p50:12.1f} ms {p99:5.1f} ms   {pct(bare_all, 50):10.1f} ms "
        f"{pct(bare_all, 99):5.1f} ms"
    )
    verdict = "met" if p50 < 50 and p99 < 200 else "NOT met"
    print(f"goal for the ledger page's data (p50 < 50 ms, p99 < 200 ms): {verdict}")


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="per filter and endpoint")
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
        add_blockers(url, args.projects)
        print(f"seeded {args.projects} projects in {time.perf_counter() - started:.1f} s")
        asyncio.run(measure(url, args.requests))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
