"""The dashboard overview: one call, from a cache that live events invalidate, never blank."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import httpx
import nats
import orjson

from gateway.overview import Overview
from gateway.proxy import Upstreams
from services.common.contracts.calendar import plan_year
from tests.conftest import auth
from tests.unit.gateway_kit import TARGET, gateway_over_stand

OVERVIEW = "/api/v1/dashboard/overview"
TOP_KEYS = {"generated_at", "degraded", "stale", "targets", "pipeline", "designations", "alerts"}


async def _publish_live(app, suffix: str, body: bytes) -> None:
    settings = app.state.settings
    await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 10)
    nc = await nats.connect(settings.nats_url)
    await nc.jetstream().publish(f"{settings.live_subjects}.{suffix}", body)
    await nc.close()


async def test_the_overview_has_every_section_in_the_page_s_shape(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        r = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        assert r.status_code == 200
        body = r.json()
        assert set(body) == TOP_KEYS
        assert body["degraded"] == [] and body["stale"] == {}
        targets = body["targets"]
        assert targets["total"] == 1
        assert targets["by_status"] == {
            "achieved": 0,
            "on_track": 0,
            "at_risk": 0,
            "behind": 1,
            "no_data": 0,
            "met": 0,
            "missed": 0,
        }
        expected = {k: v for k, v in TARGET.items() if k != "internal_note"}
        assert targets["items"] == [expected]
        assert body["pipeline"] == {
            "year": plan_year(date.today()),
            "stages": ["reserve", "starting", "building", "built"],
            "by_stage_category": [
                {"stage": "building", "category": "school", "category_label": "学校", "count": 2}
            ],
            "batches": [
                {"batch": "built", "label": "建成一批", "planned": 5, "actual": 1},
                {"batch": "reserve", "label": "储备一批", "planned": 9, "actual": 7},
            ],
        }
        assert body["designations"] == {
            "by_type": [{"type": "high_tech", "label": "高新技术企业", "count": 3}]
        }
        assert body["alerts"] == {
            "overdue_milestones": [
                {
                    "project_id": 12,
                    "project_name": "芝罘区某小学新建工程",
                    "title": "开工",
                    "kind": "start",
                    "due_on": "2020-03-01",
                }
            ],
            "expiring_designations": [
                {
                    "enterprise_id": 7,
                    "enterprise_name": "烟台某某科技有限公司",
                    "type": "high_tech",
                    "type_label": "高新技术企业",
                    "expires_on": "2030-01-31",
                }
            ],
        }


async def test_repeated_reads_are_served_from_the_cache_and_honour_if_none_match(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        first = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        for _ in range(20):
            r = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
            assert r.content == first.content
        assert stand.upstreams["events"].calls["GET /api/v1/targets/summary"] == 1
        r = await client.get(
            OVERVIEW, headers=auth(tokens["viewer"], **{"If-None-Match": first.headers["etag"]})
        )
        assert r.status_code == 304


async def test_a_live_target_event_invalidates_the_cached_overview(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, app):
        r = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        assert r.json()["targets"]["items"][0]["current_value"] == 4
        stand.upstreams["events"].data["summary"] = {
            "targets": [{**TARGET, "current_value": 5, "status": "on_track"}]
        }
        await _publish_live(app, "target.t50_schools", b'{"target": {"id": "t50_schools"}}')
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = (await client.get(OVERVIEW, headers=auth(tokens["viewer"]))).json()
            if body["targets"]["items"][0]["current_value"] == 5:
                break
            await asyncio.sleep(0.02)
        assert body["targets"]["items"][0]["current_value"] == 5
        assert body["targets"]["by_status"]["on_track"] == 1


async def test_a_burst_of_events_costs_a_few_rebuilds_not_one_per_event(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, app):
        await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 10)
        for i in range(300):
            app.state.overview.invalidate("target")
            if i % 50 == 0:
                await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        assert stand.upstreams["events"].calls["GET /api/v1/targets/summary"] <= 10


async def test_with_a_service_down_the_overview_answers_with_its_last_values_marked_stale(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory, gateway_kwargs={"overview_ttl": 0.1}) as (
        client,
        stand,
        _,
    ):
        before = (await client.get(OVERVIEW, headers=auth(tokens["viewer"]))).json()
        await stand.stop("projects")
        await asyncio.sleep(0.2)
        await client.get(OVERVIEW, headers=auth(tokens["viewer"]))  # starts the rebuild
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
            if r.json()["degraded"]:
                break
            await asyncio.sleep(0.05)
        body = r.json()
        assert r.status_code == 200
        assert body["degraded"] == ["projects"]
        assert set(body["stale"]) == {"projects"}
        assert body["stale"]["projects"]["age_seconds"] >= 0
        assert body["stale"]["projects"]["as_of"] is not None
        assert body["pipeline"]["batches"] == before["pipeline"]["batches"]
        assert body["alerts"] == before["alerts"]
        assert body["targets"] == before["targets"]
        await stand.start("projects")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = (await client.get(OVERVIEW, headers=auth(tokens["viewer"]))).json()
            if not body["degraded"]:
                break
            await asyncio.sleep(0.05)
        assert body["degraded"] == [] and body["stale"] == {}


async def test_a_section_never_had_is_null_and_named_degraded(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        await stand.stop("events")
        r = await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        body = r.json()
        assert r.status_code == 200
        assert body["degraded"] == ["events"]
        assert body["stale"] == {"events": {"age_seconds": None, "as_of": None}}
        assert body["targets"] is None and body["designations"] is None
        assert body["pipeline"]["by_stage_category"] == []
        assert len(body["pipeline"]["batches"]) == 2


async def test_a_failing_service_is_asked_less_and_less_often(settings_factory):
    calls: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(500, json={"detail": "busy"})

    upstreams = Upstreams(settings_factory(), transport=httpx.MockTransport(busy))
    overview = Overview(upstreams, token=lambda: "t", today=date.today, ttl=0.05, min_interval=0)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        overview.invalidate()  # an event flood must not turn into a request flood
        snap = await overview.body()
        await asyncio.sleep(0.01)
    await upstreams.aclose()
    assert orjson.loads(snap.body)["degraded"] == ["enterprises", "events", "projects"]
    # Backing off 0.05, 0.1, 0.2, 0.4, 0.8 s: a handful of calls, not one per event.
    assert 3 <= calls.count("/api/v1/targets/summary") <= 7


async def test_events_nobody_reads_cost_the_services_nothing(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, app):
        await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        for _ in range(100):
            app.state.overview.invalidate("project")
        await asyncio.sleep(0.3)
        assert stand.upstreams["events"].calls["GET /api/v1/targets/summary"] == 1
        await client.get(OVERVIEW, headers=auth(tokens["viewer"]))
        assert stand.upstreams["events"].calls["GET /api/v1/targets/summary"] == 2


async def test_after_the_plan_the_four_batches_are_the_plans_last_year(settings_factory):
    """In 2026 the batches asked for and shown are 2025's, not an empty year after the plan."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/pipeline":
            asked.append(request.url.params["year"])
            batch = {"batch": "built", "label": "建成一批", "planned": 3, "actual": 2}
            return httpx.Response(200, json={"year": 2025, "batches": [batch]})
        return httpx.Response(500, json={"detail": "not in this test"})

    upstreams = Upstreams(settings_factory(), transport=httpx.MockTransport(answer))
    overview = Overview(
        upstreams, token=lambda: "t", today=lambda: date(2026, 12, 2), ttl=60, min_interval=0
    )
    body = orjson.loads((await overview.body()).body)
    await upstreams.aclose()
    assert asked == ["2025"]
    assert body["pipeline"]["year"] == 2025
    assert body["pipeline"]["batches"][0]["actual"] == 2
