"""The live stream cannot fill the disk: it keeps at most its size limit, dropping the oldest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from services.common import nats as natsutil
from services.common.settings import Settings


def test_the_live_stream_keeps_within_its_byte_limit(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(live_stream_max_bytes=64 * 1024)

    async def run() -> tuple[int, int, int]:
        nc = await natsutil.connect(settings, name="test-live-limits")
        js = nc.jetstream()
        try:
            await natsutil.provision(js, settings)
            for n in range(400):
                await js.publish(f"{settings.live_subjects}.target.t{n % 7}", b"x" * 1000)
            info = await js.stream_info(settings.live_stream)
            await js.delete_stream(settings.live_stream)
            await js.delete_stream(settings.stream)
            return info.state.bytes, info.state.messages, info.state.last_seq
        finally:
            await nc.close()

    stored, messages, last = asyncio.run(run())
    assert stored <= 64 * 1024
    assert last == 400 and 0 < messages < 400, "the newest kept, the oldest dropped"
