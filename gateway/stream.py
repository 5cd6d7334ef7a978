"""Live updates: Server-Sent Events from the live JetStream stream, and overview invalidation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client import Gauge
from starlette.types import Message, Send

from gateway.deps import GatewayReader
from gateway.labels import MESSAGES
from gateway.overview import Overview, set_target_gauges
from gateway.routes import API_PREFIX
from services.common.contracts.events import ProjectStageAnnounced, TargetProgressChanged
from services.common.errors import DomainError
from services.common.runtime import Runtime

log = logging.getLogger("plantrack.gateway.stream")

KINDS = ("target", "project")
QUEUE_LIMIT = 5_000
HEARTBEAT_SECONDS = 15.0
RECONNECT_MS = 2_000
# Should the gateway die, the server drops its stream consumers after this long.
INACTIVE_SECONDS = 30.0


SSE_CLIENTS = Gauge("plantrack_sse_clients", "Live-stream (SSE) clients connected")
SSE_QUEUED_BYTES = Gauge(
    "plantrack_sse_queued_bytes", "Live-stream bytes waiting for slow clients to read them"
)


class StreamUnavailable(DomainError):
    status = 503
    title = "Live stream unavailable"


def kind_of(subject: str, live_prefix: str) -> str | None:
    """`<live>.target.<id>` → "target"; None for subjects the dashboard does not show."""
    rest = subject.removeprefix(live_prefix + ".")
    kind = rest.split(".", 1)[0]
    return kind if kind in KINDS and rest != subject else None


def target_update(payload: dict[str, Any]) -> dict[str, Any]:
    """A target's new progress, from a TargetProgressChanged notice."""
    return TargetProgressChanged.parse(payload).target


def project_change(payload: dict[str, Any]) -> dict[str, Any]:
    """A stage change as the page shows it (from a ProjectStageAnnounced notice): which project,
    from where to where, on which day."""
    notice = ProjectStageAnnounced.parse(payload)
    return {
        "id": notice.id,
        "name": notice.name,
        "category": notice.category,
        "from": notice.from_,
        "to": notice.to,
        "stage": notice.to,
        "on": notice.on.isoformat(),
    }


def decode(kind: str, data: bytes) -> dict[str, Any] | None:
    """The notice's body as the page shows it; None for anything that is not such a notice."""
    try:
        body = orjson.loads(data)
        payload = body["payload"]
        return target_update(payload) if kind == "target" else project_change(payload)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def frame(seq: int, kind: str, data: dict[str, Any]) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def heartbeat() -> bytes:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return b"event: heartbeat\ndata: " + orjson.dumps({"at": at}) + b"\n\n"


async def watch_live(runtime: Runtime, overview: Overview) -> None:
    """Invalidate the overview (and set target gauges) on every live event; a plain
    subscription suffices: a missed event is caught by the overview's TTL."""
    assert runtime.nc is not None
    prefix = runtime.settings.live_subjects

    async def on_message(msg: Msg) -> None:
        kind = kind_of(msg.subject, prefix)
        if kind is None:
            return
        overview.invalidate(kind)
        if kind == "target":
            update = decode(kind, msg.data)
            if update and "id" in update:
                set_target_gauges([update])

    await runtime.nc.subscribe(f"{prefix}.>", cb=on_message)


def _start_after(last_event_id: str | None) -> ConsumerConfig:
    """Resume after the last sequence the client saw, else only what happens from now on."""
    if last_event_id and last_event_id.strip().isdigit():
        return ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=int(last_event_id.strip()) + 1,
            inactive_threshold=INACTIVE_SECONDS,
        )
    return ConsumerConfig(deliver_policy=DeliverPolicy.NEW, inactive_threshold=INACTIVE_SECONDS)


@dataclass
class LiveClients:
    """The stream's clients and the bytes queued for them (memory a slow reader holds)."""

    clients: int = 0
    queued_bytes: int = 0
    peak_queued_bytes: int = 0
    overflows: int = 0

    def queued(self, size: int) -> None:
        self.queued_bytes += size
        self.peak_queued_bytes = max(self.peak_queued_bytes, self.queued_bytes)
        SSE_QUEUED_BYTES.inc(size)

    def released(self, size: int) -> None:
        self.queued_bytes -= size
        SSE_QUEUED_BYTES.dec(size)

    def joined(self) -> None:
        self.clients += 1
        SSE_CLIENTS.inc()

    def left(self) -> None:
        self.clients -= 1
        SSE_CLIENTS.dec()


class ClientQueue:
    """One client's messages waiting to be written: bounded in count and bytes. A client too
    slow for the bound is ended (it resumes by Last-Event-ID) and what it held is freed."""

    def __init__(self, clients: LiveClients, max_bytes: int) -> None:
        self.clients = clients
        self.max_bytes = max_bytes
        self.items: asyncio.Queue[Msg | None] = asyncio.Queue()
        self.bytes = 0
        self.overflowed = False

    def put(self, msg: Msg) -> None:
        if self.overflowed:
            return
        size = len(msg.data)
        if self.bytes + size > self.max_bytes or self.items.qsize() >= QUEUE_LIMIT:
            self.overflowed = True
            self.clients.overflows += 1
            self.clear()
            self.items.put_nowait(None)
            return
        self.bytes += size
        self.clients.queued(size)
        self.items.put_nowait(msg)

    async def get(self, timeout: float) -> Msg | None:
        msg = await asyncio.wait_for(self.items.get(), timeout)
        if msg is not None:
            self.bytes -= len(msg.data)
            self.clients.released(len(msg.data))
        return msg

    def clear(self) -> None:
        while not self.items.empty():
            self.items.get_nowait()
        self.clients.released(self.bytes)
        self.bytes = 0


async def events(
    runtime: Runtime,
    last_event_id: str | None,
    heartbeat_seconds: float,
    clients: LiveClients | None = None,
) -> AsyncIterator[bytes]:
    """The SSE body for one client: an ordered consumer of the live stream, closed on disconnect."""
    if runtime.js is None or not runtime.nats_ready.is_set():
        raise StreamUnavailable(MESSAGES("stream_away"))
    prefix = runtime.settings.live_subjects
    clients = clients if clients is not None else LiveClients()
    queue = ClientQueue(clients, runtime.settings.sse_max_queued_bytes)

    async def on_message(msg: Msg) -> None:
        queue.put(msg)

    sub = await runtime.js.subscribe(
        f"{prefix}.>",
        stream=runtime.settings.live_stream,
        cb=on_message,
        ordered_consumer=True,
        config=_start_after(last_event_id),
    )

    async def body() -> AsyncIterator[bytes]:
        clients.joined()
        try:
            yield f"retry: {RECONNECT_MS}\n: connected\n\n".encode()
            while True:
                try:
                    msg = await queue.get(heartbeat_seconds)
                except TimeoutError:
                    yield heartbeat()
                    continue
                if msg is None:
                    return
                kind = kind_of(msg.subject, prefix)
                data = decode(kind, msg.data) if kind else None
                if kind and data is not None:
                    yield frame(msg.metadata.sequence.stream, kind, data)
        finally:
            queue.clear()
            clients.left()
            await _close(runtime, sub)

    return body()


class LiveResponse(StreamingResponse):
    """An event stream whose every write must be taken within `send_timeout`: a client that
    stops reading is cut off, and its consumer and queue are released with it."""

    def __init__(self, content: AsyncIterator[bytes], *, send_timeout: float, **kw: Any) -> None:
        super().__init__(content, **kw)
        self.send_timeout = send_timeout

    async def stream_response(self, send: Send) -> None:
        async def timed(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self.send_timeout)
            except TimeoutError:
                raise ClientStalled from None

        try:
            await super().stream_response(timed)
        except ClientStalled:
            log.info("a live-stream client took no data for %ss: cut off", self.send_timeout)
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class ClientStalled(Exception):
    """A write to the client did not complete in time."""


async def _close(runtime: Runtime, sub: JetStreamContext.PushSubscription) -> None:
    """Stop delivery and delete the ephemeral consumer now rather than at its inactivity limit."""
    # The ordered consumer's current name (it changes when the consumer is recreated).
    name = getattr(sub, "_consumer", None)
    try:
        await sub.unsubscribe()
        if name and runtime.js is not None:
            await runtime.js.delete_consumer(runtime.settings.live_stream, name)
    except Exception as exc:  # the connection or the consumer may already be gone
        log.debug("closing the stream's consumer: %s", exc)


router = APIRouter(tags=["dashboard"])


@router.get(
    API_PREFIX + "/stream",
    summary="Live target progress and project stage changes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    _: GatewayReader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Events `target` (a target's new progress) and `project` (a stage change), each with
    `id:` = its sequence in the live stream; send `Last-Event-ID` to resume after it. A
    `heartbeat` event comes every 15 s of quiet."""
    runtime: Runtime = request.app.state.runtime
    clients: LiveClients = request.app.state.live_clients
    body = await events(runtime, last_event_id, request.app.state.heartbeat_seconds, clients)
    return LiveResponse(
        body,
        send_timeout=runtime.settings.sse_send_timeout_seconds,
        media_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
