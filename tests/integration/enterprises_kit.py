"""Helpers for the enterprises service tests: valid codes, the running app, its published events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from fastapi import FastAPI
from nats.js.api import DeliverPolicy
from sqlalchemy import func, select

from services.common.envelope import Event
from services.common.settings import Settings
from services.enterprises.app import create_app
from services.enterprises.models import outbox
from services.enterprises.uscc import check_character
from tests.conftest import running_app

PUBLISHED_CODES = ("91110000600037341L", "91371082775260043P", "91310115MA1K3BTP2B")
"""The valid codes DOMAIN.md gives."""

TODAY = "2025-06-30"
"""The business date the tests run on (the plan's last year), unless a test moves it."""


def make_uscc(n: int, *, region: str = "370602") -> str:
    """A valid code for an enterprise of the district, unique per `n`."""
    body = f"91{region}{n:09d}"
    return body + check_character(body)


def corrupt_check(code: str) -> str:
    """The code with a wrong check character."""
    wrong = "0" if code[-1] != "0" else "1"
    return code[:-1] + wrong


def enterprise(n: int, **fields: Any) -> dict[str, Any]:
    """A request body for a new enterprise."""
    body: dict[str, Any] = {
        "uscc": make_uscc(n),
        "name": f"烟台测试{n}科技有限公司",
        "industry_section": "I",
        "industry_chain": "信息技术",
        "sub_district": "只楚街道",
        "size": "small",
        "landed_on": "2023-05-20",
        "source_channel": "招商引资",
    }
    body.update(fields)
    return body


@dataclass
class Service:
    """A running enterprises app: its client, app and settings."""

    client: httpx.AsyncClient
    app: FastAPI
    settings: Settings

    @property
    def engine(self) -> Any:
        return self.app.state.runtime.engine


@asynccontextmanager
async def enterprises_service(
    settings_factory: Callable[..., Settings], url: str, **overrides: Any
) -> AsyncIterator[Service]:
    """The service on its own database and streams, with the business date fixed."""
    values: dict[str, Any] = {"enterprises_database_url": url, "today": TODAY}
    values.update(overrides)
    async with running_service(settings_factory(**values)) as service:
        yield service


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[Service]:
    """The service with these very settings (a restart keeps its database and streams)."""
    app = create_app(settings)
    async with running_app(app) as client:
        # Stopping while NATS is still connecting can leave the relay running: start fully first.
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), timeout=10)
        yield Service(client=client, app=app, settings=settings)


def unpublished(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()


async def wait_published(engine: Any, timeout: float = 10.0) -> None:
    """Until the relay has published every outbox row (JetStream acknowledged them)."""
    deadline = time.monotonic() + timeout
    while unpublished(engine):
        if time.monotonic() > deadline:
            raise AssertionError(f"{unpublished(engine)} outbox rows still unpublished")
        await asyncio.sleep(0.02)


async def stream_events(settings: Settings, type_: str | None = None) -> list[Event]:
    """Every enterprises event in the deployment's stream (optionally of one type), in order."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        subject = f"{settings.domain_subjects}.enterprises.{type_ or '>'}"
        info = await js.stream_info(settings.stream, subjects_filter=subject)
        expected = sum((info.state.subjects or {}).values())
        events: list[Event] = []
        if expected:
            sub = await js.subscribe(
                subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            while len(events) < expected:
                msg = await sub.next_msg(timeout=5.0)
                events.append(Event.from_bytes(msg.data))
            await sub.unsubscribe()
        return events
    finally:
        await nc.close()


async def published_events(service: Service, type_: str | None = None) -> list[Event]:
    """The service's events once the relay has published all of them."""
    await wait_published(service.engine)
    return await stream_events(service.settings, type_)
