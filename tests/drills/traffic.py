"""Drill traffic: projects and enterprises written through the services' HTTP API, with retries.

A write counts once a replica acknowledged it (2xx). A write that failed on the wire or with a
5xx is retried as any client would; when the retry meets a 409, the first attempt had in fact
committed, and the existing record is looked up instead (codes and USCCs are unique, a project
cannot enter its stage twice), so retries never create a second record.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from services.enterprises.uscc import check_character
from tests.drills.cluster import TODAY

PROJECT_CATEGORIES = ("school", "hospital", "pocket_park", "talent_apartment")
BUSINESS_TODAY = date.fromisoformat(TODAY)
RETRY_FOR = 90.0
"""How long one write is retried through a fault before the drill gives up on it."""

Resolve = Callable[[httpx.Response], Awaitable[dict[str, Any] | None]]


class TrafficError(AssertionError):
    """A write was refused for a reason no fault explains (a bug in the drill or a service)."""


@dataclass
class TrafficStats:
    acked: int = 0
    retried: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    resolved_after_retry: int = 0
    problem_json_5xx: int = 0
    seconds: float = 0.0
    projects: set[int] = field(default_factory=set)
    enterprises: set[int] = field(default_factory=set)
    designations: set[int] = field(default_factory=set)


class Traffic:
    """Writes `planned` changes over `workers` concurrent clients, alternating the replicas."""

    def __init__(
        self,
        *,
        urls: dict[str, list[str]],
        headers: dict[str, str],
        planned: int,
        seed: int,
        tag: str,
        workers: int = 8,
    ) -> None:
        self.urls = {k: itertools.cycle(v) for k, v in urls.items()}
        self.headers = headers
        self.planned = planned
        self.rng = random.Random(seed)
        self.tag = tag
        self.workers = workers
        self.stats = TrafficStats()
        self._serial = seed * 100_000
        self._progress = asyncio.Condition()
        self.client: httpx.AsyncClient | None = None

    # --- the plan ---------------------------------------------------------------------------

    def chains(self) -> list[Callable[[], Awaitable[None]]]:
        """Chains of dependent writes (a project and its transitions, an enterprise and its
        designations) adding up to exactly `planned` writes; the last may be cut short."""
        out: list[Callable[[], Awaitable[None]]] = []
        left = self.planned
        while left > 0:
            if self.rng.random() < 0.6:
                steps = self._project_plan()
                steps = steps[:left]
                out.append(lambda s=steps: self._project_chain(s))
            else:
                steps = self._enterprise_plan()[:left]
                out.append(lambda s=steps: self._enterprise_chain(s))
            left -= len(steps)
        return out

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _day(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randint(0, max(0, (hi - lo).days)))

    def _project_plan(self) -> list[tuple[str, Any]]:
        n = self._next()
        category = self.rng.choice(PROJECT_CATEGORIES)
        created = self._day(date(2023, 1, 2), date(2024, 12, 31))
        body: dict[str, Any] = {
            "name": f"演练项目{self.tag}-{n}",
            "category": category,
            "level": "district",
            "sub_district": "向阳街道",
            "created_on": created.isoformat(),
            "code": f"2023-370602-47-01-{n % 1_000_000:06d}",
        }
        if category == "talent_apartment":
            body.update(quantity=self.rng.randint(50, 300), quantity_unit="套")
        steps: list[tuple[str, Any]] = [("create", body)]
        on = created
        for to in ("starting", "building", "built"):
            on = self._day(on, min(on + timedelta(days=200), BUSINESS_TODAY))
            steps.append(("transition", {"to": to, "on": on.isoformat()}))
        stop = self.rng.random()
        if stop < 0.1:
            return steps[:1]
        if stop < 0.2:
            return steps[:2]
        if stop < 0.3:
            return [*steps[:3], ("transition", {"to": "cancelled", "on": steps[2][1]["on"]})]
        return steps

    def _enterprise_plan(self) -> list[tuple[str, Any]]:
        n = self._next()
        first17 = f"91370602{n % 1_000_000_000:09d}"
        landed = self._day(date(2019, 1, 1), date(2024, 12, 31))
        body = {
            "uscc": first17 + check_character(first17),
            "name": f"烟台演练{self.tag}-{n}科技有限公司",
            "industry_section": "I",
            "sub_district": "只楚街道",
            "size": "small",
            "landed_on": landed.isoformat(),
            "source_channel": "招商引资",
        }
        granted = self._day(date(2021, 6, 1), date(2025, 6, 1))
        grant = {"type": "high_tech", "level": "national", "granted_on": granted.isoformat()}
        steps: list[tuple[str, Any]] = [("create", body), ("grant", grant)]
        if self.rng.random() < 0.5:
            sme_on = self._day(date(2023, 1, 1), BUSINESS_TODAY)
            steps.append(
                (
                    "grant",
                    {
                        "type": "specialised_sme",
                        "level": "provincial",
                        "granted_on": sme_on.isoformat(),
                    },
                )
            )
        if self.rng.random() < 0.15:
            # within a year of the grant: a lapsed certificate cannot be revoked
            revoked = self._day(
                granted + timedelta(days=1), min(granted + timedelta(days=365), BUSINESS_TODAY)
            )
            steps.append(("revoke", {"on": revoked.isoformat(), "reason": "演练撤销"}))
        return steps

    # --- running it -------------------------------------------------------------------------

    async def run(self) -> TrafficStats:
        queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        for chain in self.chains():
            queue.put_nowait(chain)
        started = time.monotonic()
        limits = httpx.Limits(max_connections=self.workers * 2)
        async with httpx.AsyncClient(headers=self.headers, limits=limits, timeout=15) as client:
            self.client = client

            async def worker() -> None:
                while not queue.empty():
                    await queue.get_nowait()()

            await asyncio.gather(*(worker() for _ in range(self.workers)))
        self.stats.seconds = time.monotonic() - started
        return self.stats

    async def reached(self, writes: int) -> None:
        """Wait until `writes` writes were acknowledged (where a drill injects its fault)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.stats.acked >= writes)

    async def _acked(self) -> None:
        async with self._progress:
            self.stats.acked += 1
            self._progress.notify_all()

    async def write(
        self, service: str, path: str, body: dict[str, Any], resolve: Resolve
    ) -> dict[str, Any]:
        """POST until acknowledged; a 409 after a failed attempt means that attempt committed."""
        assert self.client is not None
        deadline = time.monotonic() + RETRY_FOR
        attempt, pause = 0, 0.1
        while True:
            attempt += 1
            try:
                r = await self.client.post(next(self.urls[service]) + path, json=body)
            except httpx.TransportError:
                self.stats.transport_errors += 1
                r = None
            if r is not None and r.is_success:
                await self._acked()
                return r.json()
            if r is not None and r.status_code == 409 and attempt > 1:
                found = await resolve(r)
                if found is not None:
                    self.stats.resolved_after_retry += 1
                    await self._acked()
                    return found
            if r is not None and r.status_code < 500:
                raise TrafficError(f"POST {path} {body} → {r.status_code}: {r.text}")
            if r is not None:
                self.stats.server_errors += 1
                if r.headers.get("content-type", "").startswith("application/problem+json"):
                    self.stats.problem_json_5xx += 1
            if time.monotonic() > deadline:
                raise TrafficError(f"POST {path} still failing after {RETRY_FOR}s")
            self.stats.retried += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def read(self, service: str, path: str, **params: Any) -> Any:
        """GET through the same faults (reads are safe to repeat)."""
        assert self.client is not None
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                r = await self.client.get(next(self.urls[service]) + path, params=params)
                if r.status_code < 500:
                    r.raise_for_status()
                    return r.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TrafficError(f"GET {path} still failing after {RETRY_FOR}s")
            await asyncio.sleep(0.2)

    # --- the chains -------------------------------------------------------------------------

    async def _project_chain(self, steps: list[tuple[str, Any]]) -> None:
        body = steps[0][1]

        async def existing(_: httpx.Response) -> dict[str, Any] | None:
            page = await self.read("projects", "/api/v1/projects", q=body["code"])
            return page["items"][0] if page["items"] else None

        project = await self.write("projects", "/api/v1/projects", body, existing)
        pid = int(project["id"])
        self.stats.projects.add(pid)
        for _, move in steps[1:]:

            async def entered(_: httpx.Response, to: str = move["to"]) -> dict[str, Any] | None:
                now = await self.read("projects", f"/api/v1/projects/{pid}")
                return now if any(s["stage"] == to for s in now["stages"]) else None

            await self.write("projects", f"/api/v1/projects/{pid}/transitions", move, entered)

    async def _enterprise_chain(self, steps: list[tuple[str, Any]]) -> None:
        body = steps[0][1]

        async def existing(_: httpx.Response) -> dict[str, Any] | None:
            return await self.read("enterprises", f"/api/v1/enterprises/by-uscc/{body['uscc']}")

        enterprise = await self.write("enterprises", "/api/v1/enterprises", body, existing)
        eid = int(enterprise["id"])
        self.stats.enterprises.add(eid)
        base = f"/api/v1/enterprises/{eid}/designations"
        high_tech: int | None = None
        for kind, payload in steps[1:]:
            if kind == "grant":

                async def granted(_: httpx.Response, p: dict = payload) -> dict[str, Any] | None:
                    held = await self.read("enterprises", base)
                    same = [
                        d
                        for d in held
                        if d["type"] == p["type"] and d["granted_on"] == p["granted_on"]
                    ]
                    return same[0] if same else None

                d = await self.write("enterprises", base, payload, granted)
                self.stats.designations.add(int(d["id"]))
                if payload["type"] == "high_tech":
                    high_tech = int(d["id"])
            elif high_tech is not None:

                async def revoked(_: httpx.Response, did: int = high_tech) -> dict[str, Any] | None:
                    d = await self.read("enterprises", f"{base}/{did}")
                    return d if d.get("revoked_on") else None

                await self.write("enterprises", f"{base}/{high_tech}/revoke", payload, revoked)
