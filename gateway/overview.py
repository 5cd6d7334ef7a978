"""The dashboard overview: assembled from the services, cached as bytes, invalidated by events."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from gateway import sections
from gateway.deps import GatewayReader
from gateway.proxy import Upstreams
from gateway.routes import API_PREFIX
from services.common.contracts.calendar import plan_year
from services.common.contracts.metrics import TARGET_PROGRESS, TARGET_VALUE
from services.common.contracts.stages import STAGE_ORDER
from services.common.errors import DomainError

log = logging.getLogger("plantrack.gateway.overview")

TTL_SECONDS = 5.0
PIPELINE_TTL_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 2.0
MIN_REBUILD_INTERVAL_SECONDS = 0.5


@dataclass
class Source:
    """One upstream call the overview is built from, with its last good value."""

    name: str
    service: str
    path: str
    query: Callable[[date], str]
    adapt: Callable[[Any, date], Any]
    # A second, bounded round of calls some answers need (e.g. the projects' milestones).
    follow: Callable[[Upstreams, Any, dict[str, str]], Awaitable[Any]] | None = None
    # Its own safety-net TTL, for an answer that is costly and that events already invalidate.
    ttl: float | None = None
    value: Any = None
    ok_at: float | None = None  # wall clock of the last good answer
    checked_at: float = 0.0  # monotonic time of the last attempt
    failures: int = 0  # in a row; the source backs off while its service struggles
    dirty: bool = True

    @property
    def failed(self) -> bool:
        return self.failures > 0

    def due(self, now: float, ttl: float) -> bool:
        ttl = max(ttl, self.ttl or 0.0)
        if self.failures:
            # A service that fails or times out is often busy with the very answer asked for
            # (it goes on computing after the gateway gave up): asking again on every event
            # or TTL would keep it busy for good, so wait twice as long after each failure.
            backoff = min(BACKOFF_MAX_SECONDS, ttl * 2 ** (self.failures - 1))
            return now - self.checked_at >= backoff
        return self.dirty or now - self.checked_at >= ttl


def default_sources() -> list[Source]:
    return [
        Source(
            "summary",
            "events",
            "/api/v1/targets/summary",
            lambda _: "",
            lambda body, _: sections.summary(body),
        ),
        Source(
            "batches",
            "projects",
            "/api/v1/pipeline",
            # Only the counts are shown: `projects=false` asks the service to leave the
            # batches' project lists out (ignored where it is not supported). The year is the
            # plan's (its last once it is over: a later year has no batches).
            lambda d: f"year={plan_year(d)}&projects=false",
            lambda body, _: sections.batches(body),
            ttl=PIPELINE_TTL_SECONDS,
        ),
        Source(
            "overdue",
            "projects",
            "/api/v1/projects",
            lambda _: f"overdue=true&limit={sections.OVERDUE_LIMIT}",
            sections.overdue_milestones,
            follow=with_milestones,
        ),
        Source(
            "expiring",
            "enterprises",
            "/api/v1/designations/expiring",
            lambda _: "within_days=90",
            lambda body, _: sections.expiring_designations(body),
        ),
    ]


async def with_milestones(upstreams: Upstreams, body: Any, headers: dict[str, str]) -> Any:
    """The overdue projects with their milestones: a list page may leave them out, so each
    (at most OVERDUE_LIMIT) is read in full."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or all("milestones" in p for p in items):
        return body

    async def detail(project: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/v1/projects/{project.get('id')}"
        r = await upstreams.send(
            "projects", "GET", path, headers=headers, timeout=FETCH_TIMEOUT_SECONDS
        )
        if r.status_code != 200:
            raise ValueError(f"HTTP {r.status_code} from {path}")
        return orjson.loads(r.content)

    limited = items[: sections.OVERDUE_LIMIT]
    return {"items": await asyncio.gather(*(detail(p) for p in limited))}


# Which sources a live event can change; anything else is caught by the TTL.
INVALIDATES = {
    "target": ("summary", "expiring"),
    "project": ("summary", "batches", "overdue"),
}


@dataclass
class Snapshot:
    body: bytes
    etag: str
    generation: int
    built_at: float = field(default_factory=time.monotonic)


class Overview:
    """Serves the overview as pre-serialised bytes, so its cost does not grow with the data.

    An event marks the sources it touches dirty; the next read waits for a rebuild, so what it
    gets is never older than an event it could have seen. Nothing is fetched for events nobody
    reads, and rebuilds start at most every `min_interval`: the services' summaries are costly
    queries, and a stream of events must not turn into a stream of them. Past the TTL a read
    gets the current bytes at once and a rebuild starts in the background. One rebuild runs at
    a time (single flight). A source whose service fails keeps its last value and puts the
    service in `degraded`.
    """

    def __init__(
        self,
        upstreams: Upstreams,
        *,
        token: Callable[[], str],
        today: Callable[[], date],
        ttl: float = TTL_SECONDS,
        min_interval: float = MIN_REBUILD_INTERVAL_SECONDS,
        sources: list[Source] | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.token = token
        self.today = today
        self.ttl = ttl
        self.min_interval = min_interval
        self.sources = {s.name: s for s in (sources or default_sources())}
        self.generation = 0  # bumped by every invalidation
        self.snapshot: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = -math.inf

    def invalidate(self, kind: str | None = None) -> None:
        """Mark what an event of `kind` changes (everything when None)."""
        for name in INVALIDATES.get(kind or "", tuple(self.sources)):
            self.sources[name].dirty = True
        self.generation += 1

    def _rebuild_soon(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            delay = max(0.0, self._started + self.min_interval - time.monotonic())
            self._task = asyncio.create_task(self._rebuild(delay))
        return self._task

    async def body(self) -> Snapshot:
        """The current overview; waits only when it is missing or an event made it stale."""
        snap = self.snapshot
        if snap is not None and snap.generation == self.generation:
            if time.monotonic() - snap.built_at >= self.ttl:
                self._rebuild_soon()
            return snap
        wanted = self.generation
        deadline = time.monotonic() + self.min_interval + FETCH_TIMEOUT_SECONDS + 0.5
        # A rebuild already under way may predate the event: then the next one is awaited.
        while self.snapshot is None or self.snapshot.generation < wanted:
            task = self._rebuild_soon()
            if self.snapshot is None:
                await asyncio.shield(task)
                continue
            try:  # a slow service must not hold the page: past the wait, serve the last bytes
                await asyncio.wait_for(asyncio.shield(task), deadline - time.monotonic())
            except TimeoutError:
                break
        return self.snapshot

    async def _rebuild(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        self._started = time.monotonic()
        generation = self.generation
        due = [s for s in self.sources.values() if s.due(self._started, self.ttl)]
        today = self.today()
        await asyncio.gather(*(self._fetch(s, today) for s in due))
        body = orjson.dumps(self.assemble(today))
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        self.snapshot = Snapshot(body, etag, generation)

    async def _fetch(self, source: Source, today: date) -> None:
        source.dirty = False
        source.checked_at = time.monotonic()
        headers = {"authorization": f"Bearer {self.token()}", "accept": "application/json"}
        try:
            response = await self.upstreams.send(
                source.service,
                "GET",
                source.path,
                query=source.query(today),
                headers=headers,
                timeout=FETCH_TIMEOUT_SECONDS,
            )
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}: {response.text[:200]}")
            body = orjson.loads(response.content)
            if source.follow is not None:
                body = await source.follow(self.upstreams, body, headers)
            source.value = source.adapt(body, today)
            source.ok_at = time.time()
            source.failures = 0
        except (DomainError, ValueError, TypeError, AttributeError, KeyError) as exc:
            if not source.failed:
                log.warning("overview: %s from %s failed: %s", source.name, source.service, exc)
            source.failures += 1

    def assemble(self, today: date) -> dict[str, Any]:
        """The overview's shape; a section is null only when none of its parts was ever had."""
        s = {name: src.value for name, src in self.sources.items()}
        summary = s["summary"]
        if summary is not None:
            set_target_gauges(summary["targets"]["items"])
        pipeline = None
        if summary is not None or s["batches"] is not None:
            pipeline = {
                "year": plan_year(today),
                "stages": list(STAGE_ORDER),
                "by_stage_category": summary["by_stage_category"] if summary else [],
                "batches": s["batches"] or [],
            }
        alerts = None
        if s["overdue"] is not None or s["expiring"] is not None:
            alerts = {
                "overdue_milestones": s["overdue"] or [],
                "expiring_designations": s["expiring"] or [],
            }
        degraded, stale = self.staleness()
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "degraded": degraded,
            "stale": stale,
            "targets": summary["targets"] if summary else None,
            "pipeline": pipeline,
            "designations": {"by_type": summary["by_type"]} if summary else None,
            "alerts": alerts,
        }

    def staleness(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The services whose last call failed, with the age of what is shown for them."""
        now = time.time()
        oldest: dict[str, float | None] = {}
        for src in self.sources.values():
            if src.failed:
                seen = oldest.get(src.service, now)
                oldest[src.service] = (
                    None if src.ok_at is None or seen is None else min(seen, src.ok_at)
                )
        stale = {
            service: {
                "age_seconds": None if at is None else round(now - at, 1),
                "as_of": None
                if at is None
                else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
            }
            for service, at in sorted(oldest.items())
        }
        return sorted(oldest), stale


def set_target_gauges(items: list[dict[str, Any]]) -> None:
    """One Prometheus gauge per target (value and progress)."""
    for item in items:
        target_id = str(item.get("id"))
        value, progress = item.get("current_value"), item.get("progress")
        if isinstance(value, int | float):
            TARGET_VALUE.labels(target_id, str(item.get("clause") or "")).set(value)
        if isinstance(progress, int | float):
            TARGET_PROGRESS.labels(target_id).set(progress)


router = APIRouter(tags=["dashboard"])


@router.get(API_PREFIX + "/dashboard/overview", summary="Everything a dashboard shows, in one call")
async def overview(request: Request, _: GatewayReader) -> Response:
    """Targets summary, pipeline by stage × category and the year's batches, designations by
    type, alerts; `degraded` names the services that could not be reached, whose last known
    values are shown with their age in `stale`."""
    snap = await request.app.state.overview.body()
    headers = {"ETag": snap.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == snap.etag:
        return Response(status_code=304, headers=headers)
    return Response(snap.body, media_type="application/json", headers=headers)
