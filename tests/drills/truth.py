"""Ground truth from the services' own databases, compared with what the events service reports.

The truth is computed with plain SQL over the projects and enterprises tables (the records
themselves, not their events), following the counting rules of DOMAIN.md and EVENTS.md. The
comparison counts, per checked target and date, the projects or enterprises the roll-up misses
(lost) or counts beyond the truth or more than once (duplicated); it also checks that every
acknowledged write is in its database, that every committed event reached the events inbox,
and that the roll-up's facts hold each entity's latest version.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import Engine, text

from services.events.targets import Target, get_target
from tests.drills.cluster import TODAY, Databases
from tests.drills.traffic import TrafficStats

MAIN_LINE = ("reserve", "starting", "building", "built")
CHECKED_TARGETS = (
    "schools",
    "hospitals",
    "pocket_parks",
    "talent_apartments",
    "high_tech_enterprises",
    "specialised_smes",
)
"""Targets the traffic moves: project counts and a sum (built), a stock and a count of grants."""
AS_OF = (date.fromisoformat(TODAY), date(2024, 6, 30))


# --- truth from the producers' databases ---------------------------------------------------


def project_truth(conn: Any, schema: str, target: Target, at: date) -> dict[int, float]:
    """Projects counting on `at`: reached the stage inside the window, not cancelled by then."""
    sel = target.selector
    assert sel is not None and sel.stage is not None
    unit = "AND p.quantity_unit = :unit" if sel.quantity_unit else ""
    rows = conn.execute(
        text(
            f'SELECT p.id, p.quantity FROM "{schema}".project p '
            f"WHERE p.category = ANY(:cats) {unit} "
            f'AND (SELECT min(s.entered_on) FROM "{schema}".stage_entry s '
            "     WHERE s.project_id = p.id AND s.stage = ANY(:reached)) BETWEEN :lo AND :hi "
            f'AND NOT EXISTS (SELECT 1 FROM "{schema}".stage_entry c WHERE c.project_id = p.id '
            "     AND c.stage = 'cancelled' AND c.entered_on <= :at)"
        ),
        {
            "cats": sel.categories,
            "unit": sel.quantity_unit,
            "reached": list(MAIN_LINE[MAIN_LINE.index(sel.stage) :]),
            "lo": target.window.start,
            "hi": min(at, target.window.end),
            "at": at,
        },
    )
    return {int(r.id): float(r.quantity or 0) for r in rows}


def enterprise_truth(conn: Any, schema: str, target: Target, at: date) -> set[int]:
    """Enterprises counting on `at`: holding the designation (stock) or first granted it in the
    window and not revoked since (new)."""
    sel = target.selector
    assert sel is not None
    levels = "AND d.level = ANY(:levels)" if sel.levels else ""
    if target.measure == "stock":
        when = (
            "d.granted_on <= :at AND (d.expires_on IS NULL OR d.expires_on >= :at) "
            "AND (d.revoked_on IS NULL OR d.revoked_on > :at)"
        )
    else:
        when = (
            "d.renews_id IS NULL AND d.granted_on BETWEEN :lo AND :hi "
            "AND (d.revoked_on IS NULL OR d.revoked_on > :at)"
        )
    rows = conn.execute(
        text(
            f'SELECT DISTINCT d.enterprise_id FROM "{schema}".designation d '
            f"WHERE d.type = ANY(:types) {levels} AND {when}"
        ),
        {
            "types": sel.designations,
            "levels": sel.levels,
            "lo": target.window.start,
            "hi": min(at, target.window.end),
            "at": at,
        },
    )
    return {int(r[0]) for r in rows}


@dataclass
class Check:
    """One target on one date: the truth, and what the events service said."""

    target: str
    at: date
    truth_ids: set[int]
    truth_value: float
    observed_value: float | None = None
    observed_ids: list[int] | None = None

    @property
    def lost(self) -> int:
        if self.observed_ids is not None:
            return len(self.truth_ids - set(self.observed_ids))
        return max(0, round(self.truth_value - (self.observed_value or 0)))

    @property
    def duplicated(self) -> int:
        if self.observed_ids is not None:
            seen = self.observed_ids
            return len(seen) - len(set(seen)) + len(set(seen) - self.truth_ids)
        return max(0, round((self.observed_value or 0) - self.truth_value))

    @property
    def value_matches(self) -> bool:
        observed = self.observed_value
        return observed is not None and abs(observed - self.truth_value) < 1e-6


@dataclass
class Verdict:
    """The comparison at one moment; `lost` and `duplicated` are what the drill reports."""

    checks: list[Check] = field(default_factory=list)
    unacknowledged_in_db: int = 0
    unpublished: int = 0
    not_consumed: int = 0
    stale_facts: int = 0
    events: int = 0

    @property
    def lost(self) -> int:
        return self.unacknowledged_in_db + self.not_consumed + sum(c.lost for c in self.checks)

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.checks)

    @property
    def settled(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.unpublished == 0
            and self.stale_facts == 0
            and all(c.value_matches for c in self.checks)
        )

    def describe(self) -> str:
        wrong = [
            f"{c.target}@{c.at}: truth {c.truth_value:g} observed {c.observed_value}"
            for c in self.checks
            if not c.value_matches or c.lost or c.duplicated
        ]
        return (
            f"events={self.events} unpublished={self.unpublished} not_consumed={self.not_consumed}"
            f" stale_facts={self.stale_facts} acked_missing={self.unacknowledged_in_db}"
            f" mismatches={wrong}"
        )


class Judge:
    """Computes the truth and asks the events service; waits until the two agree."""

    def __init__(self, dbs: Databases, events_urls: list[str], headers: dict[str, str]) -> None:
        assert dbs.engine is not None
        self.engine: Engine = dbs.engine
        self.s = dbs.schemas
        self.events_urls = events_urls
        self.headers = headers
        self.targets = [get_target(t) for t in CHECKED_TARGETS]

    def truths(self) -> list[Check]:
        out = []
        with self.engine.connect() as conn:
            for target in self.targets:
                for at in AS_OF:
                    if target.source == "projects":
                        held = project_truth(conn, self.s["projects"], target, at)
                        value = sum(held.values()) if target.measure == "sum" else len(held)
                        out.append(Check(target.id, at, set(held), float(value)))
                    else:
                        ids = enterprise_truth(conn, self.s["enterprises"], target, at)
                        out.append(Check(target.id, at, ids, float(len(ids))))
        return out

    def pipeline_state(self, verdict: Verdict, stats: TrafficStats | None) -> None:
        """Outbox rows not yet relayed or not yet in the inbox; facts behind their records."""
        p, e, ev = self.s["projects"], self.s["enterprises"], self.s["events"]
        gen = f'(SELECT coalesce(max(active), 1) FROM "{ev}".rollup_state)'
        with self.engine.connect() as conn:
            for producer in (p, e):
                verdict.events += conn.execute(
                    text(f'SELECT count(*) FROM "{producer}".outbox')
                ).scalar_one()
                verdict.unpublished += conn.execute(
                    text(f'SELECT count(*) FROM "{producer}".outbox WHERE published_at IS NULL')
                ).scalar_one()
                verdict.not_consumed += conn.execute(
                    text(
                        f'SELECT count(*) FROM "{producer}".outbox o WHERE NOT EXISTS '
                        f'(SELECT 1 FROM "{ev}".inbox i WHERE i.event_id = o.event_id)'
                    )
                ).scalar_one()
            for table, fact in (
                (f'"{p}".project', "fact_project"),
                (f'"{e}".enterprise', "fact_enterprise"),
                (f'"{e}".designation', "fact_designation"),
            ):
                verdict.stale_facts += conn.execute(
                    text(
                        f'SELECT count(*) FROM {table} x LEFT JOIN "{ev}".{fact} f '
                        f"ON f.id = x.id AND f.generation = {gen} "
                        "WHERE f.version IS DISTINCT FROM x.version"
                    )
                ).scalar_one()
            if stats is not None:
                verdict.unacknowledged_in_db = sum(
                    len(ids)
                    - conn.execute(
                        text(f'SELECT count(*) FROM "{schema}".{table} WHERE id = ANY(:ids)'),
                        {"ids": list(ids)},
                    ).scalar_one()
                    for schema, table, ids in (
                        (p, "project", stats.projects),
                        (e, "enterprise", stats.enterprises),
                        (e, "designation", stats.designations),
                    )
                )

    async def observe(self, client: httpx.AsyncClient, check: Check, replica: int) -> None:
        """Ask the replicas in turn, starting with `replica`: a drill may have killed one."""
        order = self.events_urls[replica % len(self.events_urls) :] + self.events_urls
        for url in order[: len(self.events_urls)]:
            try:
                r = await client.get(
                    f"{url}/api/v1/targets/{check.target}",
                    params={"as_of": check.at.isoformat(), "contributors_limit": 5000},
                    headers=self.headers,
                )
            except httpx.TransportError:
                continue
            r.raise_for_status()
            body = r.json()
            check.observed_value = body.get("current_value")
            contributors = body.get("contributors")
            total = body.get("contributors_total", len(contributors or []))
            if contributors is not None and len(contributors) == total:
                check.observed_ids = [int(c["id"]) for c in contributors]
            return
        raise httpx.ConnectError("no events replica answers")

    async def verdict(self, stats: TrafficStats | None = None) -> Verdict:
        verdict = Verdict(checks=await asyncio.to_thread(self.truths))
        await asyncio.to_thread(self.pipeline_state, verdict, stats)
        async with httpx.AsyncClient(timeout=10) as client:
            for i, check in enumerate(verdict.checks):
                await self.observe(client, check, i)
        return verdict

    async def settle(self, stats: TrafficStats | None, timeout: float = 120.0) -> Verdict:
        """Poll until the roll-ups equal the truth (or time runs out); the last verdict."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                verdict = await self.verdict(stats)
            except httpx.HTTPError:
                verdict = None
            if verdict is not None and (verdict.settled or time.monotonic() > deadline):
                return verdict
            if verdict is None and time.monotonic() > deadline:
                raise AssertionError("the events service did not answer within the timeout")
            await asyncio.sleep(0.5)

    # --- time to recover -------------------------------------------------------------------

    def marks(self) -> dict[str, int]:
        """The last outbox sequence of each producer now."""
        with self.engine.connect() as conn:
            return {
                name: conn.execute(
                    text(f'SELECT coalesce(max(seq), 0) FROM "{self.s[name]}".outbox')
                ).scalar_one()
                for name in ("projects", "enterprises")
            }

    def behind(self, marks: dict[str, int]) -> int:
        """Events up to `marks` that the events service has not applied yet."""
        ev = self.s["events"]
        with self.engine.connect() as conn:
            return sum(
                conn.execute(
                    text(
                        f'SELECT count(*) FROM "{self.s[name]}".outbox o WHERE o.seq <= :m '
                        f'AND NOT EXISTS (SELECT 1 FROM "{ev}".inbox i '
                        "WHERE i.event_id = o.event_id)"
                    ),
                    {"m": mark},
                ).scalar_one()
                for name, mark in marks.items()
            )
