"""The live stream: SSE of target progress and stage changes from JetStream, resumable by id."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import nats
import orjson

from services.common.contracts.events import ProjectStageChanged, TargetProgressChanged
from services.projects.announce import stage_notice
from tests.conftest import auth
from tests.unit.gateway_kit import gateway_over_stand

STREAM = "/api/v1/stream"


async def sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse an event stream into {"id", "event", "data"} dicts (comments skipped)."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = orjson.loads(value) if name == "data" else value


async def publish(app, suffix: str, body: dict[str, Any]) -> int:
    """Publish to the live stream as the events service does; returns the stream sequence."""
    settings = app.state.settings
    nc = await nats.connect(settings.nats_url)
    ack = await nc.jetstream().publish(f"{settings.live_subjects}.{suffix}", orjson.dumps(body))
    await nc.close()
    return ack.seq


def stage_changed(project_id: int, to: str) -> dict[str, Any]:
    """The notice the roll-up sends after it applied a ProjectStageChanged."""
    snapshot = {"id": project_id, "name": "芝罘区某小学新建工程", "category": "school", "stage": to}
    change = ProjectStageChanged(project=snapshot, from_="starting", to=to, ordinal=2)
    return stage_notice(change, date(2024, 4, 1)).model_dump(mode="json")


def progress_changed(current: int) -> dict[str, Any]:
    target = {
        "id": "t50_schools",
        "current_value": current,
        "progress": current / 13,
        "status": "on_track",
    }
    event = TargetProgressChanged(target=target).envelope(
        subject="t50_schools", on=date(2024, 4, 1)
    )
    return event.model_dump(mode="json")


async def _open(client: httpx.AsyncClient, token: str, **headers: str):
    return client.stream("GET", STREAM, headers=auth(token, **headers))


async def test_stage_changes_and_target_progress_arrive_with_their_stream_sequence(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, _, app):
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 10)
        async with await _open(client, tokens["viewer"]) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            events = sse(r)
            s1 = await publish(app, "project.12", stage_changed(12, "building"))
            s2 = await publish(app, "target.t50_schools", progress_changed(5))
            first = await asyncio.wait_for(anext(events), 5)
            second = await asyncio.wait_for(anext(events), 5)
        assert first == {
            "id": str(s1),
            "event": "project",
            "data": {
                "id": 12,
                "name": "芝罘区某小学新建工程",
                "category": "school",
                "from": "starting",
                "to": "building",
                "stage": "building",
                "on": "2024-04-01",
            },
        }
        assert second["id"] == str(s2) and second["event"] == "target"
        assert second["data"]["id"] == "t50_schools" and second["data"]["current_value"] == 5


async def test_last_event_id_resumes_right_after_that_event(settings_factory, tokens):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, _, app):
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 10)
        seqs = [await publish(app, "target.t50_schools", progress_changed(n)) for n in (1, 2, 3)]
        async with await _open(client, tokens["viewer"], **{"Last-Event-ID": str(seqs[0])}) as r:
            events = sse(r)
            got = [await asyncio.wait_for(anext(events), 5) for _ in range(2)]
        assert [e["id"] for e in got] == [str(seqs[1]), str(seqs[2])]
        assert [e["data"]["current_value"] for e in got] == [2, 3]


async def test_a_quiet_stream_sends_heartbeats(settings_factory, tokens):
    async with gateway_over_stand(
        settings_factory, over_http=True, gateway_kwargs={"heartbeat_seconds": 0.2}
    ) as (client, _, app):
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 10)
        async with await _open(client, tokens["viewer"]) as r:
            beat = await asyncio.wait_for(anext(sse(r)), 5)
        assert beat["event"] == "heartbeat"
        assert "id" not in beat  # a heartbeat must not move the client's Last-Event-ID
        assert "T" in beat["data"]["at"]


async def test_a_client_that_goes_away_leaves_no_consumer_behind(settings_factory, tokens):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, _, app):
        runtime = app.state.runtime
        await asyncio.wait_for(runtime.nats_ready.wait(), 10)
        stream_name = app.state.settings.live_stream
        async with await _open(client, tokens["viewer"]) as r:
            first = await asyncio.wait_for(r.aiter_raw().__anext__(), 5)
            assert r.status_code == 200, first
            # the first bytes may leave before the consumer is made: wait for it to exist
            # (up to 20 s: a machine busy with other work is slow to make it)
            seen = 0
            for _ in range(400):
                seen = (await runtime.js.stream_info(stream_name)).state.consumer_count
                if seen == 1:
                    break
                await asyncio.sleep(0.05)
            assert seen == 1
        for _ in range(400):
            if (await runtime.js.stream_info(stream_name)).state.consumer_count == 0:
                break
            await asyncio.sleep(0.05)
        assert (await runtime.js.stream_info(stream_name)).state.consumer_count == 0


async def test_the_stream_needs_a_token(settings_factory):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, _, _app):
        r = await client.get(STREAM)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


async def test_a_client_that_never_reads_is_bounded_and_its_memory_returned(
    settings_factory, tokens
):
    limit = 256 * 1024
    async with gateway_over_stand(
        settings_factory, over_http=True, sse_max_queued_bytes=limit, sse_send_timeout_seconds=2
    ) as (client, _, app):
        runtime = app.state.runtime
        live = app.state.live_clients
        await asyncio.wait_for(runtime.nats_ready.wait(), 10)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((client.base_url.host, client.base_url.port))
        sock.sendall(
            f"GET {STREAM} HTTP/1.1\r\nHost: test\r\n"
            f"Authorization: Bearer {tokens['viewer']}\r\n\r\n".encode()
        )  # and never a byte read
        try:
            for _ in range(100):
                if live.clients == 1:
                    break
                await asyncio.sleep(0.05)
            assert live.clients == 1
            settings = app.state.settings
            nc = await nats.connect(settings.nats_url)
            js = nc.jetstream()
            big = progress_changed(1)
            big["payload"]["target"]["note"] = "x" * 20_000
            data = orjson.dumps(big)
            for n in range(800):  # 16 MB: more than any socket buffer takes
                await js.publish(f"{settings.live_subjects}.target.t{n % 9}", data)
            await nc.close()
            for _ in range(300):
                if live.clients == 0:
                    break
                await asyncio.sleep(0.05)
            assert live.clients == 0, "the stalled client was cut off"
            assert live.peak_queued_bytes <= limit, live
            assert live.queued_bytes == 0, "what it held is freed"
            assert live.overflows == 1
            for _ in range(100):
                info = await runtime.js.stream_info(settings.live_stream)
                if info.state.consumer_count == 0:
                    break
                await asyncio.sleep(0.05)
            assert info.state.consumer_count == 0, "its consumer is deleted"
        finally:
            sock.close()
