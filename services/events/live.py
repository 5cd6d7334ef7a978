"""The live lane: new events that move targets, applied as they are published, ahead of a backlog.

The durable consumer applies the domain stream in order; while it works through a backlog (a
replay of history, a bulk import, a restart after a long stop) a transition made now would
wait behind every older event before the target change it causes reaches the dashboards.
The lane subscribes to the event types people cause one at a time and applies each the moment
it is published, through the same inbox and roll-up as the durable consumer, recomputes the
targets it moved and announces them; meanwhile the backlog's next batch waits (WriteTurns in
services/common/inbox.py). Whichever applies an event first records it, the other meets its id
in the inbox and skips it, and a snapshot's highest version wins whatever the order, so the
roll-up stays exact. Nothing depends on the lane: an event it misses (a queue overflow, a
restart, a failed transaction) is applied by the durable consumer when it gets there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.common.envelope import Received
from services.common.inbox import Consumer

log = logging.getLogger("plantrack.events.lane")

LANE_TYPES = (
    "ProjectStageChanged",
    "ProjectUpdated",
    "EnterpriseUpdated",
    "DesignationGranted",
    "DesignationRenewed",
    "DesignationRevoked",
    "DesignationExpired",
)
"""Events made one at a time by people (registrations come in bulk with imports)."""
QUEUE_LIMIT = 1_000
"""Messages held at most; past it the oldest are left to the durable consumer, so the lane
never becomes a backlog of its own."""
BATCH = 256
QUEUE_GROUP = "events-live-lane"
"""Replicas share the lane: each new event goes to one of them."""

AfterCommit = Callable[[list[Received], Any], Awaitable[None]]


class LiveLane:
    """A plain subscription to the domain subjects of LANE_TYPES, applied through `consumer`'s
    inbox and effect in a worker thread of its own, then announced by `after_commit`."""

    def __init__(
        self,
        *,
        nc: Client,
        domain_subjects: str,
        consumer: Consumer,
        after_commit: AfterCommit,
    ) -> None:
        self.nc = nc
        self.subjects = [f"{domain_subjects}.*.{t}" for t in LANE_TYPES]
        self.consumer = consumer
        self.after_commit = after_commit
        self.queue: deque[Msg] = deque(maxlen=QUEUE_LIMIT)
        self._arrived = asyncio.Event()
        self._stopping = False
        self.applied = 0
        self.skipped = 0

    def stop(self) -> None:
        self._stopping = True
        self._arrived.set()

    async def _on_msg(self, msg: Msg) -> None:
        self.queue.append(msg)
        self._arrived.set()

    async def run(self) -> None:
        subs: list[Subscription] = []
        worker = ThreadPoolExecutor(1, thread_name_prefix="live-lane")
        loop = asyncio.get_running_loop()
        try:
            for subject in self.subjects:
                subs.append(
                    await self.nc.subscribe(
                        subject, queue=QUEUE_GROUP, cb=self._on_msg, pending_msgs_limit=QUEUE_LIMIT
                    )
                )
            while not self._stopping:
                await self._arrived.wait()
                self._arrived.clear()
                while self.queue and not self._stopping:
                    msgs = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
                    # From here until the targets they moved are announced, the backlog's
                    # batches wait: they would share every step with these.
                    with self.consumer.turns.priority():
                        await self._handle(loop, worker, msgs)
        finally:
            for sub in subs:
                try:
                    await sub.unsubscribe()
                except Exception:
                    pass
            worker.shutdown(wait=False)

    async def _handle(
        self, loop: asyncio.AbstractEventLoop, worker: ThreadPoolExecutor, msgs: list[Msg]
    ) -> None:
        try:
            fresh, facts = await loop.run_in_executor(worker, self._apply, msgs)
        except Exception as exc:  # the durable consumer applies them later
            log.warning("live lane: %d events left to the backlog: %s", len(msgs), exc)
            return
        self.applied += len(fresh)
        self.skipped += len(msgs) - len(fresh)
        if fresh:
            try:
                await self.after_commit(fresh, facts)
            except Exception:
                log.exception("live lane: announcing failed")

    def _apply(self, msgs: list[Msg]) -> tuple[list[Received], Any]:
        events = []
        for msg in msgs:
            try:
                events.append(Received.from_bytes(msg.data))
            except ValueError:
                pass  # the durable consumer logs and drops it
        return self.consumer.process(events, urgent=True)
