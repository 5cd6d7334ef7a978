"""Deadlines through the real roll-up: a renewal adds nothing to a `new` target, a project
planned for the deadline day counts in the forecast, and once a window has closed the status
is final, the forecast gone and what came after is shown apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from services.events.app import create_app
from tests.conftest import auth, running_app
from tests.integration import rollup_kit as kit

AFTER = date(2026, 12, 15)
"""The business date of the closed-window tests: a year after the plan's window."""


async def feed(app, settings, world: kit.World) -> None:
    js = app.state.runtime.js
    await kit.publish(js, settings, kit.shuffled(world.events))
    await kit.drained(js, settings)


async def view(client, token: str, target_id: str, at: date | None = None) -> dict:
    params = {} if at is None else {"as_of": at.isoformat()}
    r = await client.get(f"/api/v1/targets/{target_id}", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_renewal_adds_nothing_to_a_new_target(events_service, tokens):
    client, app, settings = events_service
    world = kit.World()
    firm = world.enterprise(date(2022, 1, 1))
    first = world.grant(firm, "specialised_sme", date(2023, 2, 1), level="provincial")
    world.grant(firm, "specialised_sme", date(2025, 1, 20), level="provincial", renews=first)
    other = world.enterprise(date(2022, 1, 1))
    old = world.grant(other, "specialised_sme", date(2021, 3, 1), level="provincial")
    world.grant(other, "specialised_sme", date(2024, 3, 1), level="provincial", renews=old)
    await feed(app, settings, world)

    got = await view(client, tokens["viewer"], "specialised_smes", kit.TODAY)
    # firm: one first grant in the window (its renewal adds none); other: its first grant was
    # before the window and its renewal inside it is no new enterprise.
    assert (got["current_value"], got["counted"]) == (1, 1)
    assert [c["id"] for c in got["contributors"]] == [firm]


async def test_a_project_planned_to_finish_on_the_deadline_counts_in_the_forecast(
    events_service, tokens
):
    client, app, settings = events_service
    world = kit.World()
    on_time = world.project("school", date(2024, 1, 1), planned_completion=date(2025, 12, 31))
    world.move(on_time, "building", date(2024, 3, 1))
    late = world.project("school", date(2024, 1, 1), planned_completion=date(2026, 1, 1))
    world.move(late, "building", date(2024, 3, 1))
    reserve = world.project("school", date(2024, 2, 1), planned_completion=date(2025, 12, 31))
    await feed(app, settings, world)

    got = await view(client, tokens["viewer"], "schools", kit.TODAY)
    assert (got["current_value"], got["forecast"], got["forecast_reserve"]) == (0, 1, 1)
    assert reserve and late  # the reserve one is apart; the one due a day late is not counted


@pytest.fixture
async def closed_service(settings_factory, database_url_factory):
    """The events service on an injected clock: 16:30 UTC on 14 December 2026 is already the
    15th in the district (Asia/Shanghai), a year after the plan's window."""
    settings = settings_factory(events_database_url=database_url_factory("events"), today=None)
    app = create_app(settings, clock=lambda: datetime(2026, 12, 14, 16, 30, tzinfo=UTC))
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        yield client, app, settings


async def test_after_the_deadline_the_status_is_final_and_later_work_is_after_the_plan(
    closed_service, tokens
):
    client, app, settings = closed_service
    world = kit.World()
    built = []
    for month in (3, 6, 9):
        pid = world.project("school", date(2023, 1, 10), planned_completion=date(2025, 1, 1))
        world.move(pid, "built", date(2025, month, 1))
        built.append(pid)
    cancelled_later = built[0]
    world.move(cancelled_later, "cancelled", date(2026, 5, 1))  # does not undo 2025's count
    school_2026 = world.project("school", date(2024, 5, 1), planned_completion=date(2025, 11, 1))
    world.move(school_2026, "built", date(2026, 12, 1))
    await feed(app, settings, world)

    viewer = tokens["viewer"]
    now = await view(client, viewer, "schools")  # as_of defaults to the pinned business date
    assert now["as_of"] == AFTER.isoformat()
    assert (now["status"], now["status_label"], now["final"]) == ("missed", "到期未达成", True)
    assert now["current_value"] == 3, "the value on the deadline"
    assert (now["forecast"], now["forecast_reserve"], now["expected_now"]) == (None, None, None)
    after = now["after_plan"]
    assert (after["since"], after["to"], after["value"]) == ("2026-01-01", "2026-12-15", 1)
    assert [c["id"] for c in after["contributors"]] == [school_2026]
    assert sorted(c["id"] for c in now["contributors"]) == sorted(built)
    assert max(p["month"] for p in now["series"]) == "2025-12"

    # as_of still answers any date: inside the window nothing is final.
    during = await view(client, viewer, "schools", date(2025, 7, 1))
    assert (during["current_value"], during["final"], during["after_plan"]) == (2, False, None)
    assert during["status"] in ("behind", "at_risk", "on_track") and during["forecast"] == 2
    # the deadline day itself still belongs to the window
    last_day = await view(client, viewer, "schools", date(2025, 12, 31))
    assert (last_day["final"], last_day["forecast"]) == (False, 3)

    listed = await client.get("/api/v1/targets/summary", headers=auth(viewer))
    body = listed.json()
    assert body["by_status"]["missed"] >= 1 and body["by_status"]["on_track"] == 0


async def test_a_closed_target_that_reached_its_number_is_met(closed_service, tokens):
    client, app, settings = closed_service
    world = kit.World()
    museum = world.project("museum", date(2023, 3, 1), planned_completion=date(2025, 6, 1))
    world.move(museum, "built", date(2025, 10, 8))
    await feed(app, settings, world)
    got = await view(client, tokens["viewer"], "district_museum")
    assert (got["status"], got["status_label"], got["current_value"]) == ("met", "到期达成", 1)
    assert got["after_plan"]["value"] == 0


async def test_a_reported_target_closes_on_its_own_deadline(closed_service, tokens):
    """gdp_2023's window ended 2023-12-31: 1191.15 of 1200 is missed, not at risk for ever;
    a 2024 figure is after the plan."""
    client, _, _ = closed_service
    writer = auth(tokens["project_office"])
    for body in ({"value": 1191.15, "period": "2023"}, {"value": 1250.0, "period": "2024"}):
        r = await client.post("/api/v1/targets/gdp_2023/reports", json=body, headers=writer)
        assert r.status_code == 201, r.text
    got = await view(client, tokens["viewer"], "gdp_2023")
    assert (got["status"], got["current_value"], got["forecast"]) == ("missed", 1191.15, None)
    assert got["after_plan"]["value"] == 1250.0
    inside = await view(client, tokens["viewer"], "gdp_2023", date(2023, 12, 31))
    assert inside["final"] is False and inside["current_value"] == 1191.15


async def test_a_period_sum_target_adds_its_reports_through_the_api(events_service, tokens):
    """城镇新增就业3.6万人 is a three-year total: the years' reports add up, a re-report replaces
    its period, and the quarters of a year with a year's figure give way to it."""
    client, _, _ = events_service
    writer = auth(tokens["project_office"])
    url = "/api/v1/targets/urban_new_jobs/reports"
    for body in (
        {"value": 12000, "period": "2023"},
        {"value": 2500, "period": "2024-Q1"},
        {"value": 11000, "period": "2024"},
        {"value": 11500, "period": "2024", "note": "更正"},
        {"value": 3000, "period": "2025-Q1"},
    ):
        r = await client.post(url, json=body, headers=writer)
        assert r.status_code == 201, r.text
    got = await view(client, tokens["viewer"], "urban_new_jobs")
    assert got["report_mode"] == "period_sum"
    assert (got["current_value"], got["counted"]) == (12000 + 11500 + 3000, 3)
    months = {p["month"]: p["value"] for p in got["series"]}
    assert (months["2023-11"], months["2023-12"], months["2024-03"]) == (None, 12000, 14500)


async def test_a_milestone_is_reported_done_with_its_evidence_through_the_api(
    events_service, tokens
):
    client, _, _ = events_service
    writer = auth(tokens["project_office"])
    url = "/api/v1/targets/drainage_facilities_survey/reports"
    bare = await client.post(url, json={"value": 1, "period": "2025-05"}, headers=writer)
    assert bare.status_code == 422, bare.text
    assert bare.json()["errors"][0]["loc"][-1] == "note"
    half = await client.post(url, json={"value": 0.5, "period": "2025-05"}, headers=writer)
    assert half.status_code == 422 and half.json()["errors"][0]["loc"][-1] == "value"
    body = {"value": 1, "period": "2025-05", "note": "区住建局全域排水设施排查报告"}
    done = await client.post(url, json=body, headers=writer)
    assert done.status_code == 201, done.text
    got = await view(client, tokens["viewer"], "drainage_facilities_survey")
    assert (got["measure"], got["status"], got["evidence"]) == (
        "milestone",
        "achieved",
        "区住建局全域排水设施排查报告",
    )
