"""Batches from a durable JetStream pull consumer, requested ahead over one inbox subscription."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

log = logging.getLogger("plantrack.pull")

PENDING_MESSAGES = "Nats-Pending-Messages"
"""Header of a status that ends a pull request: how many of its messages it did not deliver."""
HEARTBEAT, NO_MESSAGES, REQUEST_TIMEOUT = "100", "404", "408"
LINGER = 0.002
"""How long a short batch waits for more of a burst that is still arriving."""


class PullError(Exception):
    """The broker ended the pulls for a reason that needs the consumer set up again."""


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer unless it exists (an existing one is left as it is)."""
    try:
        await js.consumer_info(stream, config.durable_name or "")
    except NotFoundError:
        await js.add_consumer(stream, config)
    _raise_if_cancelled()


def _raise_if_cancelled() -> None:
    """Stop a task that was asked to stop. A NATS request waits with `asyncio.wait_for`, which
    on Python 3.11 returns the reply when a cancel arrives as the reply does, and the cancel
    is lost: a consumer stopped while it sets up would otherwise go on to pull."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class BatchPuller:
    """Pulls a durable consumer's messages in batches with the JetStream pull API.

    nats-py's `fetch` waits for every message with a task and a timer of its own, which costs
    more than a roll-up's database work per event. Here one subscription's callback appends
    each message to a buffer; `fetch` hands out what is buffered and keeps up to two batches
    requested ahead, so the broker streams the next batch while the last one is applied.

    A request lingers a random half to whole of `expires` seconds. The broker serves waiting
    requests first come, first served, and one request takes every message until it is full:
    short, unevenly timed requests let replicas of a quiet consumer take turns instead of one
    keeping the front of the queue. The broker ends a request that is not filled with a
    status saying how many messages it did not deliver; a request no status accounts for (a
    lost connection) is written off once it must have expired, so the count never sticks.
    """

    def __init__(
        self, nc: Client, *, stream: str, durable: str, batch: int, expires: float = 0.5
    ) -> None:
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.batch = batch
        self.expires = expires
        self.buffer: deque[Msg] = deque()
        self.waiting = 0  # requested, not yet delivered, not ended by a status
        self.written_off_at = 0.0  # when every request made so far has surely expired
        self.error: Exception | None = None
        self._arrived = asyncio.Event()
        self._sub: Subscription | None = None
        self._inbox = ""

    async def start(self) -> BatchPuller:
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox, cb=self._on_msg)
        return self

    async def close(self) -> list[Msg]:
        """Stop pulling; returns the messages delivered but not handed out."""
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None
        left, self.buffer = list(self.buffer), deque()
        return left

    async def _on_msg(self, msg: Msg) -> None:
        status = JetStreamContext.is_status_msg(msg)
        if not status:
            self.buffer.append(msg)
            self.waiting = max(0, self.waiting - 1)
        elif status == HEARTBEAT:
            return
        else:
            self._ended(status, msg)
        self._arrived.set()

    def _ended(self, status: str, msg: Msg) -> None:
        """A status closed a request: forget what it will not deliver."""
        headers = msg.headers or {}
        left = headers.get(PENDING_MESSAGES)
        self.waiting = max(0, self.waiting - int(left)) if left else 0
        # A request that ran its time (408) is routine. Anything else (409: consumer deleted,
        # leadership change, a limit exceeded; 503: no JetStream) would only come back at
        # once if asked again: the consumer backs off and sets the durable up again.
        if status not in (NO_MESSAGES, REQUEST_TIMEOUT):
            self.error = PullError(f"{status} {headers.get('Description', '')}".strip())

    async def _request(self) -> None:
        """Keep two batches on the way: ask for more once less than one is."""
        now = time.monotonic()
        if self.waiting and now > self.written_off_at:
            self.waiting = 0
        ahead = self.waiting + len(self.buffer)
        if ahead >= self.batch:
            return
        want = 2 * self.batch - ahead
        expires = self.expires * random.uniform(0.5, 1.0)  # noqa: S311 - not a secret
        body = {"batch": want, "expires": int(expires * 1e9)}
        await self.nc.publish(self.subject, orjson.dumps(body), reply=self._inbox)
        self.waiting += want
        self.written_off_at = max(self.written_off_at, now + expires + 1.0)

    async def fetch(self, timeout: float, limit: int | None = None) -> list[Msg]:
        """Up to one batch (or `limit`): what is buffered, or the first to arrive within
        `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.buffer:
            if self.error is not None:
                error, self.error = self.error, None
                raise error
            await self._request()
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, self.expires))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
        # A burst still arriving fills the batch within moments; a lone event does not wait.
        while len(self.buffer) < self.batch and self.waiting:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), LINGER)
            except TimeoutError:
                break
        count = min(self.batch if limit is None else limit, len(self.buffer))
        msgs = [self.buffer.popleft() for _ in range(count)]
        await self._request()
        return msgs
