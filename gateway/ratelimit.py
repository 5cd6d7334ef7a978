"""Per-caller rate limiting: a token bucket for each subject, in the gateway's memory."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.labels import MESSAGES
from services.common.errors import DomainError


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` calls a minute per key, refilled continuously, bursting to a minute's worth.

    Buckets idle for longer than it takes to refill are dropped, so memory follows the number of
    tokens in use, not the number ever seen.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._next_sweep = clock() + 60.0

    @staticmethod
    def key(token: str) -> str:
        # A digest, so the limiter never holds the credential itself.
        return hashlib.blake2b(token.encode(), digest_size=16).hexdigest()

    def take(self, key: str) -> float:
        """Spend one call for `key`; returns what is left, or raises TooManyRequests."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / self.rate)
            raise TooManyRequests(
                MESSAGES("rate_limited", capacity=int(self.capacity), wait=wait),
                extra={"retry_after": wait},
            )
        bucket.tokens -= 1.0
        if now >= self._next_sweep:
            self._sweep(now)
        return bucket.tokens

    def _sweep(self, now: float) -> None:
        full_after = self.capacity / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
        self._next_sweep = now + 60.0
