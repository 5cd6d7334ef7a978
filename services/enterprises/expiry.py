"""The expiry scheduler: marks lapsed designations expired, one DesignationExpired each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import date

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from services.common.envelope import utcnow
from services.common.history import history_row, record_changes
from services.common.outbox import record
from services.common.runtime import Runtime
from services.common.unit_of_work import UnitOfWork
from services.enterprises.events import DesignationExpired, designation_event
from services.enterprises.models import ACTIVE, EXPIRED, Designation, Enterprise, history, outbox

log = logging.getLogger("plantrack.enterprises.expiry")

BATCH = 500
SYSTEM_ACTOR = "system:expiry"


def expire_due(
    target: Session | Engine,
    *,
    today: date,
    ids: Collection[int] | None = None,
    batch: int = BATCH,
) -> list[int]:
    """Expire every active designation whose `expires_on` is before `today`; returns their ids.

    Given an engine, each batch commits on its own; given a session, the work joins the caller's
    transaction (`ids` narrows it to designations that transaction just wrote). A designation is
    marked by a conditional UPDATE (`status = 'active'`), so of two replicas racing for the same
    row only one changes it and only that one writes its DesignationExpired.
    """
    expired: list[int] = []
    while True:
        if isinstance(target, Engine):
            with UnitOfWork(target) as session:
                seen, done = _expire_batch(session, today=today, ids=ids, batch=batch)
        else:
            seen, done = _expire_batch(target, today=today, ids=ids, batch=batch)
        expired += done
        if seen < batch:
            return expired


def _expire_batch(
    session: Session, *, today: date, ids: Collection[int] | None, batch: int
) -> tuple[int, list[int]]:
    table = Designation.__table__
    due = (
        select(table.c.id)
        .where(table.c.status == ACTIVE, table.c.expires_on < today)
        .order_by(table.c.id)
        .limit(batch)
    )
    if ids is not None:
        due = due.where(table.c.id.in_(list(ids)))
    if session.get_bind().dialect.name == "postgresql":
        # Replicas share the work instead of queueing behind each other's locks.
        due = due.with_for_update(skip_locked=True)
    candidates = list(session.execute(due).scalars())
    if not candidates:
        return 0, []
    changed = list(
        session.execute(
            update(table)
            .where(table.c.id.in_(candidates), table.c.status == ACTIVE)
            .values(status=EXPIRED, version=table.c.version + 1, updated_at=utcnow())
            .returning(table.c.id)
        ).scalars()
    )
    if changed:
        _announce(session, changed)
    return len(candidates), changed


def _announce(session: Session, designation_ids: list[int]) -> None:
    """History and DesignationExpired for designations this transaction has just expired."""
    rows = session.scalars(
        select(Designation)
        .where(Designation.id.in_(designation_ids))
        .order_by(Designation.id)
        .execution_options(populate_existing=True)
    ).all()
    enterprise_ids = {d.enterprise_id for d in rows}
    enterprises = {
        e.id: e
        for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(enterprise_ids)))
    }
    record_changes(
        session,
        history,
        (
            history_row(
                entity="designation",
                entity_id=d.id,
                version=d.version,
                actor=SYSTEM_ACTOR,
                action="expire",
                changes={"status": [ACTIVE, EXPIRED]},
            )
            for d in rows
        ),
    )
    record(
        session,
        outbox,
        *(
            designation_event(DesignationExpired, enterprises[d.enterprise_id], d, d.expires_on)
            for d in rows
        ),
    )


class ExpiryScheduler:
    """Runs `expire_due` at start and every `settings.expiry_check_seconds`, so it catches up."""

    def __init__(self, runtime: Runtime, *, clock: Callable[[], date] | None = None) -> None:
        self.runtime = runtime
        self.interval = runtime.settings.expiry_check_seconds
        # The business date: a certificate lapses at midnight in the district, not in UTC.
        self.clock = clock or runtime.calendar.today
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """Check now rather than at the next interval."""
        self._kick.set()

    async def run_once(self) -> int:
        assert self.runtime.engine is not None
        expired = await asyncio.to_thread(expire_due, self.runtime.engine, today=self.clock())
        if expired:
            log.info("%d designation(s) expired", len(expired))
            self.runtime.wake_relay()
        return len(expired)

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self.run_once()
                backoff = 1.0
                delay = self.interval
            except Exception as exc:  # database away: try again soon, not in an hour
                log.warning("expiry check failed (%s); retrying in %.0fs", exc, backoff)
                delay = backoff
                backoff = min(backoff * 2, self.interval, 60.0)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=delay)
