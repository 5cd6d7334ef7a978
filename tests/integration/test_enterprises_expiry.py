"""Designation expiry: one DesignationExpired per lapsed designation, over replicas and restarts."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select

from services.common.db import make_engine
from services.common.settings import Settings
from services.enterprises.expiry import expire_due
from services.enterprises.models import Designation, outbox
from tests.conftest import auth
from tests.integration.enterprises_kit import (
    TODAY,
    Service,
    enterprise,
    enterprises_service,
    make_uscc,
    published_events,
    running_service,
    stream_events,
    wait_published,
)


async def seed(svc: Service, token: str, spans: list[tuple[str, str | None]]) -> list[int]:
    """One enterprise per span, each holding a gazelle designation over that span."""
    ids = []
    for n, (granted, expires) in enumerate(spans):
        r = await svc.client.post("/api/v1/enterprises", json=enterprise(n), headers=auth(token))
        body = {"type": "gazelle", "granted_on": granted, "expires_on": expires}
        d = await svc.client.post(
            f"/api/v1/enterprises/{r.json()['id']}/designations", json=body, headers=auth(token)
        )
        assert d.status_code == 201, d.text
        ids.append(d.json()["id"])
    return ids


async def test_a_designation_holds_through_its_expiry_date_and_lapses_the_day_after(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    tokens: dict[str, str],
) -> None:
    url = database_url_factory("enterprises")
    async with enterprises_service(settings_factory, url) as svc:
        token = tokens["investment_promotion"]
        first, second, _open = await seed(
            svc,
            token,
            [("2024-07-01", "2025-07-10"), ("2024-07-01", "2025-07-11"), ("2024-07-01", None)],
        )
        assert expire_due(svc.engine, today=date(2025, 7, 10)) == []
        assert expire_due(svc.engine, today=date(2025, 7, 11)) == [first]
        assert expire_due(svc.engine, today=date(2025, 7, 11)) == []
        assert expire_due(svc.engine, today=date(2026, 1, 1)) == [second]
        expired = await published_events(svc, "DesignationExpired")
        assert [e.payload["designation"]["id"] for e in expired] == [first, second]
        assert [e.on.isoformat() for e in expired] == ["2025-07-10", "2025-07-11"]
        assert expired[0].payload["designation"]["version"] == 2
        r = await svc.client.get("/api/v1/enterprises/1/history", headers=auth(token))
        assert r.json()["items"][-1]["actor"] == "system:expiry"


async def test_two_replicas_expiring_at_once_emit_one_event_per_designation(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    tokens: dict[str, str],
) -> None:
    url = database_url_factory("enterprises")
    async with enterprises_service(settings_factory, url) as svc:
        rows = ["统一社会信用代码,企业名称,认定类型,认定日期,有效期至"]
        rows += [
            f"{make_uscc(n)},企业{n},gazelle,2024-01-01,2025-07-{1 + n % 28:02d}"
            for n in range(240)
        ]
        r = await svc.client.post(
            "/api/v1/enterprises/import",
            files={"file": ("ledger.csv", "\n".join(rows).encode(), "text/csv")},
            headers=auth(tokens["investment_promotion"]),
        )
        assert r.status_code == 200, r.text
        engines = [make_engine(url), make_engine(url)]
        results: list[list[int]] = [[], []]
        start = threading.Barrier(2)

        def replica(i: int) -> None:
            start.wait()
            results[i] = expire_due(engines[i], today=date(2025, 8, 1), batch=25)

        await asyncio.gather(*(asyncio.to_thread(replica, i) for i in range(2)))
        for engine in engines:
            engine.dispose()
        assert sorted(results[0] + results[1]) == sorted(set(results[0] + results[1]))
        assert len(results[0]) + len(results[1]) == 240
        with svc.engine.connect() as conn:
            per_event = Counter(conn.execute(select(outbox.c.type)).scalars())
            statuses = dict(
                conn.execute(
                    select(Designation.status, func.count()).group_by(Designation.status)
                ).all()
            )
        assert per_event["DesignationExpired"] == 240
        assert statuses == {"expired": 240}


async def test_a_restart_after_downtime_emits_exactly_one_expired_per_lapsed_designation(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    tokens: dict[str, str],
) -> None:
    """Stopped on 2025-06-30, started again on 2025-09-01: two certificates lapsed meanwhile."""
    settings = settings_factory(
        enterprises_database_url=database_url_factory("enterprises"),
        today=TODAY,
        expiry_check_seconds=0.05,
    )
    spans: list[tuple[str, str | None]] = [
        ("2024-07-01", "2025-07-15"),
        ("2024-07-01", "2025-08-31"),
        ("2024-07-01", "2025-09-01"),
    ]
    async with running_service(settings) as svc:
        lapsed_first, lapsed_second, holding = await seed(svc, tokens["admin"], spans)
        await wait_published(svc.engine)
    after_downtime = settings.model_copy(update={"today": "2025-09-01"})
    for _restart in range(2):
        async with running_service(after_downtime) as svc:
            await asyncio.sleep(0.3)  # several scheduler rounds
            await wait_published(svc.engine)
    expired = await stream_events(settings, "DesignationExpired")
    assert sorted(e.payload["designation"]["id"] for e in expired) == [lapsed_first, lapsed_second]
    async with running_service(settings.model_copy(update={"today": "2025-09-02"})) as svc:
        await wait_until(lambda: expired_count(svc) == 3)
        await wait_published(svc.engine)
    expired = await stream_events(settings, "DesignationExpired")
    ids = [e.payload["designation"]["id"] for e in expired]
    assert sorted(ids) == [lapsed_first, lapsed_second, holding]


def expired_count(svc: Service) -> int:
    with svc.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Designation).where(Designation.status == "expired")
        ).scalar_one()


async def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")
