"""NATS connection and idempotent JetStream provisioning (streams and durable consumers)."""

from __future__ import annotations

import logging
import ssl

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from services.common.settings import Settings

log = logging.getLogger("plantrack.nats")


async def connect(settings: Settings, *, name: str) -> Client:
    """Connect, reconnecting for ever: a service outlives a broker restart."""

    async def _err(exc: Exception) -> None:
        log.warning("%s: NATS error: %s", name, exc)

    return await nats.connect(
        servers=settings.nats_servers,
        name=name,
        user=settings.nats_user,
        password=settings.nats_password,
        tls=ssl.create_default_context(cafile=settings.nats_ca_file)
        if settings.nats_ca_file
        else None,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        error_cb=_err,
        pending_size=64 * 1024 * 1024,
    )


def domain_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.stream,
        subjects=[f"{settings.domain_subjects}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_seconds,
    )


def live_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.live_stream,
        subjects=[f"{settings.live_subjects}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        max_age=24 * 3600,
        max_msgs=100_000,
        max_bytes=settings.live_stream_max_bytes,
        discard=DiscardPolicy.OLD,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration."""
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except Exception:  # a replica racing us created it first
            await js.stream_info(config.name)
    await js.update_stream(config)


async def provision(js: JetStreamContext, settings: Settings) -> None:
    await ensure_stream(js, domain_stream_config(settings))
    await ensure_stream(js, live_stream_config(settings))
