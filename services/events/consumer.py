"""Events the events service publishes and handles: the live roll-up consumer and its notices."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from services.common.contracts.events import (
    TargetProgressChanged,
    TargetReported,
)
from services.common.contracts.metrics import TARGET_PROGRESS, TARGET_VALUE
from services.common.envelope import Event, Received
from services.common.inbox import Consumer
from services.common.settings import Settings
from services.events.models import inbox
from services.events.rollup import Facts, apply_events
from services.events.targets import Target
from services.events.views import Reading, read_clock, tick

if TYPE_CHECKING:
    from services.events.models import TargetReport

log = logging.getLogger("plantrack.events.live")

NOTIFIED_FIELDS = ("current_value", "progress", "status", "forecast", "forecast_reserve")
"""A target is announced when one of these changes (expected_now moves every day)."""
ROLLUP_CONSUMER = "events-rollup"
"""The durable pull consumer of the domain stream that the events service's replicas share."""
PUBLISH_TIMEOUT = 5.0
BUSY_RATIO = 19.0
"""The tracker rests this many times as long as its last recomputation of what batches touched
took: under a backlog, a twentieth of the time (changes people make are recomputed at once,
apart)."""


# --- the events it publishes ----------------------------------------------------------------


def target_reported(report: TargetReport, *, event_id: uuid.UUID) -> Event:
    """TargetReported: a department reported a statistic (on the domain stream, via the outbox)."""
    body = {
        "id": report.id,
        "value": report.value,
        "period": report.period,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "note": report.note,
        "reported_by": report.reported_by,
    }
    payload = TargetReported(target_id=report.target_id, report=body)
    return payload.envelope(subject=report.target_id, on=report.period_end, id=event_id)


def target_progress_changed(view: dict[str, Any], on: date) -> Event:
    """TargetProgressChanged: a target's value or status moved (on the live stream)."""
    target = {k: _plain(v) for k, v in view.items() if k not in ("contributors", "series")}
    return TargetProgressChanged(target=target).envelope(subject=view["id"], on=on)


def _reraise_cancellation(exc: BaseException) -> None:
    """nats-py turns a cancelled publish into an error; a stopping task must still stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# --- live notices ---------------------------------------------------------------------------


class LiveNotifier:
    """Publishes notices to the live stream; a lost notice costs a dashboard one refresh."""

    def __init__(self, nc: Client, js: JetStreamContext, settings: Settings) -> None:
        self.nc = nc
        self.js = js
        self.prefix = settings.live_subjects

    async def send(self, items: Iterable[tuple[str, Event, str]]) -> None:
        """Publish (subject suffix, event, de-duplication id) triples; waits for the acks."""
        futures = []
        try:
            for suffix, event, msg_id in items:
                futures.append(
                    await self.js.publish_async(
                        f"{self.prefix}.{suffix}",
                        event.to_bytes(),
                        headers={"Nats-Msg-Id": msg_id},
                        wait_stall=PUBLISH_TIMEOUT,
                    )
                )
            if futures:
                await asyncio.wait_for(asyncio.gather(*futures), PUBLISH_TIMEOUT)
        except Exception as exc:
            _reraise_cancellation(exc)
            log.warning("live notices not all published: %s", exc)

    async def progress(self, views: Iterable[dict[str, Any]], on: date) -> None:
        notices = []
        for view in views:
            event = target_progress_changed(view, on)
            notices.append((f"target.{view['id']}", event, str(event.id)))
        await self.send(notices)


# --- which targets a batch moves -------------------------------------------------------------


def touched(targets: Iterable[Target], facts: Facts) -> set[str]:
    """The targets the batch's facts may have moved (a superset is harmless, a subset is not)."""
    out: set[str] = set()
    for t in targets:
        sel = t.selector
        if sel is None:
            hit = t.id in facts.reported
        elif t.source == "projects":
            hit = bool(facts.categories.intersection(sel.categories))
        elif sel.landed:
            hit = bool(facts.enterprises)
        else:
            narrowed = any(
                v is not None
                for v in (sel.industry_chain, sel.industry_section, sel.source_channel)
            )
            hit = bool(facts.designation_types.intersection(sel.designations)) or (
                narrowed and facts.enterprises_changed
            )
        if hit:
            out.add(t.id)
    return out


# --- current values, kept per generation ------------------------------------------------------


Assess = Callable[[Connection, list[Target], date, int], list[dict[str, Any]]]


class ProgressTracker:
    """Each target's current view in memory; recomputes what batches touched, announces changes.

    Competing replicas each see part of the stream, so a periodic full refresh keeps every
    replica's gauges right; a new active generation or a new day also recomputes everything.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        targets: list[Target],
        assess: Assess,
        today: Callable[[], date],
        notifier: LiveNotifier | None = None,
        refresh_seconds: float = 30.0,
        debounce_seconds: float = 0.2,
        warm: Callable[[date], None] | None = None,
    ) -> None:
        self.engine = engine
        self.targets = {t.id: t for t in targets}
        self.assess = assess
        self.today = today
        self.notifier = notifier
        self.refresh_seconds = refresh_seconds
        self.debounce_seconds = debounce_seconds
        self.warm = warm
        self.values: dict[str, dict[str, Any]] = {}
        self.generation: int | None = None
        self.day: date | None = None
        self.reading: Reading | None = None  # the roll-up clock at the last full refresh
        self.read_at: dict[str, Reading] = {}  # the roll-up clock each kept view was read at
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self.announced = 0
        self.last_seconds = 0.0

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def touch(self, ids: Iterable[str]) -> None:
        """Recompute these targets soon (with whatever else batches touched meanwhile)."""
        chosen = {i for i in ids if i in self.targets}
        if chosen:
            self._pending.update(chosen)
            self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.refresh_seconds)
                everything = False
            except TimeoutError:
                everything = True
            self._wake.clear()
            if self._stopping:
                return
            # Let a burst of batches coalesce; under a heavy stream, recompute at most a
            # twentieth of the time, so the consumer keeps the database and the interpreter.
            await asyncio.sleep(max(self.debounce_seconds, BUSY_RATIO * self.last_seconds))
            ids, self._pending = self._pending, set()
            started = time.perf_counter()
            try:
                await self.refresh(ids, everything=everything, warm=True)
            except Exception as exc:  # database away: try again on the next wake
                _reraise_cancellation(exc)
                log.warning("target progress not refreshed: %s", exc)
                self._pending |= ids
            self.last_seconds = time.perf_counter() - started

    async def refresh_now(self, ids: Iterable[str]) -> None:
        """Recompute and announce these targets at once, beside (not after) a recomputation
        of what a backlog's batches touched: a change someone just made, from the live lane.
        On failure they are left to the batched path."""
        chosen = {i for i in ids if i in self.targets}
        if not chosen:
            return
        try:
            await self.refresh(chosen, everything=False, only=True)
        except Exception as exc:
            _reraise_cancellation(exc)
            log.warning("target progress not refreshed at once: %s", exc)
            self.touch(chosen)

    async def refresh(
        self,
        ids: Iterable[str] = (),
        *,
        everything: bool = True,
        warm: bool = False,
        only: bool = False,
    ) -> int:
        """Recompute targets, update the gauges, announce changes; returns how many changed.
        With `warm`, then compute the views readers ask for, ready before they ask. With
        `only`, just these targets, whatever else changed (the rest is left to the batched
        path)."""
        views, day, at = await asyncio.to_thread(self._compute, set(ids), everything, only)
        if warm and self.warm is not None and views:
            await asyncio.to_thread(self.warm, day)
        changed = []
        for view in views:
            key = view["id"]
            # Two recomputations may overlap (an urgent one beside a batched one): the one
            # that read the roll-up earlier never replaces a later one's view.
            seen = self.read_at.get(key)
            if seen is not None and seen.generation == at.generation and seen.ticks > at.ticks:
                continue
            self.read_at[key] = at
            before = self.values.get(key)
            self.values[key] = view
            _gauge(self.targets[key], view)
            if before is not None and any(before[k] != view[k] for k in NOTIFIED_FIELDS):
                changed.append(view)
        if changed and self.notifier is not None:
            await self.notifier.progress(changed, day)
            self.announced += len(changed)
        return len(changed)

    def _compute(
        self, ids: set[str], everything: bool, only: bool = False
    ) -> tuple[list[dict[str, Any]], date, Reading]:
        with self.engine.connect() as conn:
            now = read_clock(conn)
            generation = now.generation
            day = self.today()
            if only:
                chosen = [self.targets[i] for i in sorted(ids)]
                return self.assess(conn, chosen, day, generation), day, now
            if generation != self.generation or day != self.day or not self.values:
                everything = True
            elif everything and not ids and now == self.reading:
                return [], day, now  # nothing written since the last full refresh
            chosen = (
                list(self.targets.values())
                if everything
                else [self.targets[i] for i in sorted(ids)]
            )
            views = self.assess(conn, chosen, day, generation) if chosen else []
        self.generation, self.day = generation, day
        if everything:
            self.reading = now
        return views, day, now


def _gauge(target: Target, view: dict[str, Any]) -> None:
    if view.get("current_value") is not None:
        TARGET_VALUE.labels(target.id, target.clause).set(view["current_value"])
    if view.get("progress") is not None:
        TARGET_PROGRESS.labels(target.id).set(view["progress"])


# --- the live consumer ------------------------------------------------------------------------


def apply(conn: Connection, events: list[Received]) -> Facts:
    """The consumer's effect, inside the inbox's transaction; a batch that wrote facts ticks
    the roll-up clock, so no target view computed before it is served after it commits."""
    facts = apply_events(conn, ((e.type, e.payload) for e in events))
    if len(facts):
        tick(conn)
    return facts


def announcer(
    targets: list[Target], tracker: ProgressTracker, *, at_once: bool = False
) -> Callable[[list[Received], Facts], Awaitable[None]]:
    """What follows a committed batch: the targets it may have moved recomputed (and announced
    when they changed); `at_once`: before it returns (the live lane's). Stage changes are
    announced by the projects service as it relays them."""

    async def after_commit(fresh: list[Received], facts: Facts) -> None:
        if at_once:
            await tracker.refresh_now(touched(targets, facts))
        else:
            tracker.touch(touched(targets, facts))

    return after_commit


def rollup_consumer(
    *,
    nc: Client,
    js: JetStreamContext,
    engine: Engine,
    settings: Settings,
    targets: list[Target],
    tracker: ProgressTracker,
    name: str = ROLLUP_CONSUMER,
) -> Consumer:
    """The durable pull consumer of the domain stream; replicas share it as competing consumers."""
    return Consumer(
        nc=nc,
        js=js,
        engine=engine,
        inbox=inbox,
        apply=apply,
        stream=settings.stream,
        config=rollup_consumer_config(settings, name),
        batch=settings.consumer_batch,
        name=name,
        after_commit=announcer(targets, tracker),
        # PostgreSQL applies three batches at once (each waits on the server's statements and
        # commit: 22,500 events/s with two, 25,500 with three); SQLite has one writer, so a
        # second transaction would only queue for its lock.
        in_flight=3 if engine.dialect.name == "postgresql" else 1,
    )


def rollup_consumer_config(settings: Settings, name: str = ROLLUP_CONSUMER) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.consumer_ack_wait_seconds,
        max_ack_pending=20_000,
        max_deliver=-1,
        filter_subject=f"{settings.domain_subjects}.>",
    )
