"""A consumer stopped while it sets up its durable stops there, not after a first pull."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import ConsumerConfig

from services.common.pull import ensure_consumer


class ReplyAsTheCancelArrives:
    """A JetStream context whose request gets its reply just as the task is cancelled: on
    Python 3.11 the request's `asyncio.wait_for` then returns the reply and drops the cancel."""

    async def consumer_info(self, stream: str, durable: str) -> object:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass  # what wait_for does with a cancel that comes with the reply
        return object()


async def test_a_cancel_lost_in_a_setup_request_still_stops_the_task() -> None:
    js = ReplyAsTheCancelArrives()
    task = asyncio.ensure_future(
        ensure_consumer(js, "STREAM", ConsumerConfig(durable_name="d"))  # type: ignore[arg-type]
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
