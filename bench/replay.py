"""Replay speed: rebuild every roll-up from N domain events (default 1,000,000); events/s, memory.

Run:  python bench/replay.py [--events 1000000] [--pg postgresql://postgres@127.0.0.1:5432/test]

A private nats-server gets N events shaped as the projects and enterprises services publish them
(whole snapshots; projects moving through their stages, enterprises granted, renewed, revoked
and expired designations, plus milestones and investment reports that move no target), in
business-date order within blocks of entities. The replay then runs in a fresh process, so its
peak resident memory (VmHWM) is its own: the figure printed is the whole process's, Python
and libraries included. Goals: ≥ 20,000 events/s and < 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common import db  # noqa: E402
from services.common import nats as natsutil  # noqa: E402
from services.common.envelope import new_id  # noqa: E402
from services.common.natsserver import NatsServer  # noqa: E402
from services.common.settings import Settings  # noqa: E402

CATEGORIES = [
    "school",
    "hospital",
    "venue",
    "road",
    "pocket_park",
    "old_community",
    "kindergarten",
    "river",
    "talent_apartment",
    "greening_road",
    "basic_research",
]
DESIGNATIONS = [
    ("high_tech", "national", 3),
    ("tech_sme", "national", 1),
    ("specialised_sme", "provincial", 3),
    ("little_giant", "national", 3),
    ("headquarters", "district", None),
    ("first_store", "municipal", None),
    ("gazelle", "provincial", None),
    ("service_above_scale", "district", None),
]
START = date(2022, 1, 1)
SPAN = 4 * 365


class _Maker:
    """Entities living through 2022–2025, each change an event with the whole snapshot."""

    def __init__(self, seed: int, first_id: int = 1) -> None:
        self.rng = random.Random(seed)
        self.next_id = first_id - 1
        self.made: list[tuple[date, str, dict[str, Any]]] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _day(self, after: date, most: int) -> date:
        return after + timedelta(days=self.rng.randint(1, most))

    def _emit(self, type_: str, subject: int, on: date, producer: str, payload: dict) -> None:
        body = {
            "id": str(new_id()),
            "type": type_,
            "subject": str(subject),
            "occurred_at": "2025-06-30T08:00:00+00:00",
            "on": on.isoformat(),
            "producer": producer,
            "schema_version": 1,
            "payload": payload,
        }
        self.made.append((on, f"{producer}.{type_}", body))

    def project(self) -> None:
        rng, pid = self.rng, self._id()
        created = START + timedelta(days=rng.randint(0, SPAN))
        snap = self._project_snapshot(pid, created)
        self._emit("ProjectRegistered", pid, created, "projects", {"project": snap})
        on = created
        for to in ("starting", "building", "built")[: rng.randint(0, 3)]:
            on, before = self._day(on, 200), snap["stage"]
            entry = {"stage": to, "on": on.isoformat(), "ordinal": len(snap["stages"])}
            snap = {
                **snap,
                "stage": to,
                "version": snap["version"] + 1,
                "stages": [*snap["stages"], entry],
            }
            self._emit(
                "ProjectStageChanged",
                pid,
                on,
                "projects",
                {
                    "project": snap,
                    "from": before,
                    "to": to,
                    "ordinal": entry["ordinal"],
                    "note": None,
                },
            )
            if rng.random() < 0.5:  # moves no target: the roll-up skips it
                self._emit(
                    "InvestmentReported",
                    pid,
                    on,
                    "projects",
                    {
                        "project_id": pid,
                        "month": on.strftime("%Y-%m"),
                        "amount_wan": 100.0,
                        "cumulative_wan": 100.0,
                    },
                )
        if rng.random() < 0.3:
            snap = {**snap, "version": snap["version"] + 1, "name": snap["name"] + "(调整)"}
            self._emit(
                "ProjectUpdated",
                pid,
                self._day(on, 30),
                "projects",
                {"project": snap, "changes": {"name": ["a", "b"]}},
            )

    def _project_snapshot(self, pid: int, created: date) -> dict[str, Any]:
        category = self.rng.choice(CATEGORIES)
        return {
            "id": pid,
            "version": 1,
            "name": f"芝罘区项目{pid}",
            "category": category,
            "stage": "reserve",
            "level": "district",
            "sub_district": "向阳街道",
            "lead_department": "区住建局",
            "plan_clause": "50",
            "quantity": self.rng.choice([1, 2, 3.5]),
            "quantity_unit": {"river": "km", "talent_apartment": "套"}.get(category, "所"),
            "total_investment_wan": 12000.0,
            "planned_start": created.isoformat(),
            "planned_completion": self._day(created, 900).isoformat(),
            "code": "2024-370602-47-01-123456",
            "created_on": created.isoformat(),
            "stages": [{"stage": "reserve", "on": created.isoformat(), "ordinal": 0}],
        }

    def enterprise(self) -> None:
        rng, eid = self.rng, self._id()
        landed = START + timedelta(days=rng.randint(0, SPAN))
        firm = {
            "id": eid,
            "version": 1,
            "uscc": None,
            "name": f"烟台企业{eid}",
            "industry_section": "C",
            "industry_chain": "高端装备",
            "sub_district": "只楚街道",
            "size": "small",
            "landed_on": landed.isoformat(),
            "source_channel": "招商引资",
        }
        self._emit("EnterpriseRegistered", eid, landed, "enterprises", {"enterprise": firm})
        for type_, level, years in rng.sample(DESIGNATIONS, rng.randint(1, 3)):
            self._designation(firm, type_, level, years, self._day(landed, 400))
        if rng.random() < 0.2:
            firm = {**firm, "version": 2, "size": "medium"}
            self._emit(
                "EnterpriseUpdated",
                eid,
                self._day(landed, 300),
                "enterprises",
                {"enterprise": firm},
            )

    def _designation(
        self, firm: dict, type_: str, level: str, years: int | None, granted: date
    ) -> None:
        eid = firm["id"]
        expires = None if years is None else granted + timedelta(days=365 * years - 1)
        d = {
            "id": self._id(),
            "version": 1,
            "enterprise_id": eid,
            "type": type_,
            "level": level,
            "granted_on": granted.isoformat(),
            "expires_on": expires and expires.isoformat(),
            "revoked_on": None,
            "revoke_reason": None,
            "renews_id": None,
            "certificate_no": "GR2023",
            "status": "active",
        }
        self._emit(
            "DesignationGranted",
            eid,
            granted,
            "enterprises",
            {"enterprise": firm, "designation": d},
        )
        roll = self.rng.random()
        if roll < 0.1:
            gone = self._day(granted, 300)
            d = {**d, "version": 2, "revoked_on": gone.isoformat(), "status": "revoked"}
            self._emit(
                "DesignationRevoked",
                eid,
                gone,
                "enterprises",
                {"enterprise": firm, "designation": d},
            )
        elif roll < 0.25 and expires is not None:
            d = {**d, "version": 2, "status": "expired"}
            self._emit(
                "DesignationExpired",
                eid,
                expires,
                "enterprises",
                {"enterprise": firm, "designation": d},
            )


def event_chunks(
    total: int, *, seed: int = 1, block: int = 20_000, first_id: int = 1
) -> Iterator[list[tuple]]:
    """Blocks of (subject suffix, JSON bytes, event id), business-date order within a block;
    entity ids count from `first_id`."""
    maker = _Maker(seed, first_id)
    sent = 0
    while sent < total:
        maker.made = []
        while len(maker.made) < block:
            maker.project() if maker.rng.random() < 0.6 else maker.enterprise()
        maker.made.sort(key=lambda e: e[0])
        chunk = [(suffix, orjson.dumps(body), body["id"]) for _, suffix, body in maker.made]
        chunk = chunk[: total - sent]
        sent += len(chunk)
        yield chunk


async def publish(settings: Settings, total: int, seed: int = 1, first_id: int = 1) -> float:
    """Fill the domain stream with `total` events; returns the seconds it took."""
    nc = await natsutil.connect(settings, name="bench-publisher")
    js = nc.jetstream(publish_async_max_pending=20_000)
    await natsutil.provision(js, settings)
    started = time.perf_counter()
    for chunk in event_chunks(total, seed=seed, first_id=first_id):
        futures = [
            await js.publish_async(
                f"{settings.domain_subjects}.{suffix}", data, headers={"Nats-Msg-Id": msg_id}
            )
            for suffix, data, msg_id in chunk
        ]
        await asyncio.gather(*futures)
    await nc.close()
    return time.perf_counter() - started


async def child(settings: Settings, url: str) -> dict[str, Any]:
    """The measured part: one replay in this (fresh) process."""
    from services.events.app import MIGRATIONS
    from services.events.replay import replay

    engine = db.make_engine(url)
    db.migrate(engine, MIGRATIONS)
    nc = await natsutil.connect(settings, name="bench-replay")
    js = nc.jetstream()
    result = await replay(js=js, engine=engine, settings=settings)
    await nc.close()
    engine.dispose()
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would count the parent it forked
    from, which Linux carries over an exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_settings(nats_url: str, **extra: Any) -> Settings:
    return Settings(
        env="test", nats_url=nats_url, secret="b" * 40, subject_prefix="bench", stream="BENCH",
        live_stream="BENCH_LIVE", **extra,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg", help="PostgreSQL URL (a fresh schema is used); default SQLite")
    parser.add_argument("--child", nargs=2, metavar=("NATS_URL", "DB_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(bench_settings(args.child[0]), args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        url, drop = _database(args.pg, Path(tmp))
        try:
            took = asyncio.run(publish(bench_settings(server.url), args.events))
            print(f"published {args.events:,} events in {took:.1f}s", flush=True)
            out = subprocess.run(
                [sys.executable, __file__, "--child", server.url, url],
                check=True, capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            server.kill()
            drop()
    kind = "PostgreSQL" if args.pg else "SQLite"
    print(
        f"replay ({kind}): {result['events']:,} events in {result['seconds']:.1f}s = "
        f"{result['events_per_second']:,.0f} events/s (goal ≥ 20,000); "
        f"peak RSS {result['peak_rss_mb']:.0f} MB (goal < 500)"
    )


def _database(pg: str | None, tmp: Path) -> tuple[str, Any]:
    if not pg:
        return f"sqlite:///{tmp / 'events.db'}", lambda: None
    from tests.conftest import make_pg_schema

    return make_pg_schema(pg)


if __name__ == "__main__":
    main()
