"""The targets API of the events service: catalogue, progress on a date, reports, auth, errors."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from services.events.targets import load_catalogue
from tests.conftest import auth
from tests.integration import rollup_kit as kit

API_FIELDS = {
    "id",
    "clause",
    "title",
    "unit",
    "target_value",
    "baseline_value",
    "deadline",
    "measure",
    "source",
    "current_value",
    "progress",
    "expected_now",
    "forecast",
    "status",
}
REPORTED = next(
    t
    for t in load_catalogue()
    if t.source == "reported" and t.window.start.year == 2023 and t.window.end.year == 2025
)


async def test_the_whole_catalogue_is_listed_with_the_contract_fields(events_service, tokens):
    client, _, _ = events_service
    r = await client.get("/api/v1/targets", headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    body = r.json()
    catalogue = load_catalogue()
    assert body["total"] == len(catalogue)
    assert [t["id"] for t in body["items"]] == [t.id for t in catalogue]
    for item in body["items"]:
        assert set(item) >= API_FIELDS, item["id"]
        assert item["status"] in ("achieved", "on_track", "at_risk", "behind", "no_data")
    empty = next(i for i in body["items"] if i["source"] == "projects")
    assert (empty["current_value"], empty["status"]) == (0, "no_data")
    assert isinstance(empty["current_value"], int), "counts are integers"


async def test_targets_filter_by_source_and_status(events_service, tokens):
    client, _, _ = events_service
    r = await client.get(
        "/api/v1/targets?source=reported&status=no_data", headers=auth(tokens["viewer"])
    )
    assert r.status_code == 200
    expected = [t.id for t in load_catalogue() if t.source == "reported"]
    assert [t["id"] for t in r.json()["items"]] == expected


async def test_targets_filter_by_the_project_category_they_count(events_service, tokens):
    client, _, _ = events_service
    r = await client.get(
        "/api/v1/targets", params={"category": "school"}, headers=auth(tokens["viewer"])
    )
    assert r.status_code == 200
    expected = [t.id for t in load_catalogue() if t.selector and "school" in t.selector.categories]
    assert expected and [t["id"] for t in r.json()["items"]] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("as_of=2024-13-01", "as_of"),
        ("limit=501", "limit"),
        ("source=nowhere", "source"),
        ("status=great", "status"),
    ],
)
async def test_bad_query_is_a_422_naming_the_field(events_service, tokens, query, field):
    client, _, _ = events_service
    r = await client.get(f"/api/v1/targets?{query}", headers=auth(tokens["viewer"]))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["loc"] for e in r.json()["errors"])


async def test_every_route_wants_a_token_and_the_right_role(events_service, tokens):
    client, _, _ = events_service
    assert (await client.get("/api/v1/targets")).status_code == 401
    assert (
        await client.get("/api/v1/targets/summary", headers=auth("not-a-token"))
    ).status_code == 401
    r = await client.post(
        f"/api/v1/targets/{REPORTED.id}/reports",
        json={"value": 1, "period": "2024"},
        headers=auth(tokens["viewer"]),
    )
    assert r.status_code == 403
    assert "report_targets" in r.json()["detail"]
    r = await client.post("/api/v1/admin/replay", headers=auth(tokens["project_office"]))
    assert r.status_code == 403


async def test_unknown_target_is_404(events_service, tokens):
    client, _, _ = events_service
    r = await client.get("/api/v1/targets/no_such_target", headers=auth(tokens["viewer"]))
    assert r.status_code == 404
    assert "no_such_target" in r.json()["detail"]


async def test_reports_keep_their_series_and_the_latest_period_is_current(events_service, tokens):
    client, _, _ = events_service
    writer = auth(tokens["investment_promotion"], **{"X-Request-ID": "rq"})
    url = f"/api/v1/targets/{REPORTED.id}/reports"
    for body in (
        {"value": 10, "period": "2024-06", "note": "统计局"},
        {"value": 30, "period": "2025-Q1"},
        {"value": 20, "period": "2024"},
        {"value": 35, "period": "2025-q1", "note": "修正"},
    ):
        r = await client.post(url, json=body, headers=writer)
        assert r.status_code == 201, r.text
    created = r.json()
    assert (created["period"], created["period_start"], created["period_end"]) == (
        "2025-Q1",
        "2025-01-01",
        "2025-03-31",
    )
    assert created["reported_by"] == "investment_promotion-tester"

    history = (await client.get(url, headers=auth(tokens["viewer"]))).json()
    assert history["total"] == 4
    assert [i["value"] for i in history["items"]] == [35, 20, 30, 10]

    one = await client.get(f"/api/v1/targets/{REPORTED.id}", headers=auth(tokens["viewer"]))
    view = one.json()
    assert view["current_value"] == 35, "a re-report of the latest period wins"
    assert view["counted"] == 4
    months = {p["month"]: p["value"] for p in view["series"]}
    assert [months[m] for m in ("2024-05", "2024-06", "2024-12", "2025-02", "2025-03")] == [
        None,
        10,
        20,
        20,
        35,
    ]
    earlier = (
        await client.get(
            f"/api/v1/targets/{REPORTED.id}?as_of=2024-09-30", headers=auth(tokens["viewer"])
        )
    ).json()
    assert earlier["current_value"] == 10, "a figure stands from the end of its period"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"value": 1, "period": "2024-13"}, "period", "quarter (2024-Q3)"),
        ({"value": 1, "period": "2025"}, "period", "has not ended"),
        ({"value": 1, "period": "1999"}, "period", "before 2000"),
        ({"period": "2024"}, "value", "Field required"),
        ({"value": "lots", "period": "2024"}, "value", "valid number"),
    ],
)
async def test_a_bad_report_is_refused_and_nothing_is_written(
    events_service, tokens, body, field, words
):
    client, _, _ = events_service
    url = f"/api/v1/targets/{REPORTED.id}/reports"
    r = await client.post(url, json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 422
    assert words in r.text
    assert any(field in e["loc"] for e in r.json()["errors"])
    assert (await client.get(url, headers=auth(tokens["admin"]))).json()["total"] == 0


async def test_a_counted_target_takes_no_reports(events_service, tokens):
    client, _, _ = events_service
    r = await client.post(
        "/api/v1/targets/schools/reports",
        json={"value": 3, "period": "2024"},
        headers=auth(tokens["admin"]),
    )
    assert r.status_code == 409
    assert "only reported targets take reports" in r.json()["detail"]


async def test_a_report_is_published_as_an_event_through_the_outbox(events_service, tokens):
    client, app, settings = events_service
    js = app.state.runtime.js
    sub = await js.subscribe(
        f"{settings.domain_subjects}.events.TargetReported", ordered_consumer=True
    )
    r = await client.post(
        f"/api/v1/targets/{REPORTED.id}/reports",
        json={"value": 12.5, "period": "2025-05"},
        headers=auth(tokens["admin"]),
    )
    assert r.status_code == 201
    msg = await sub.next_msg(timeout=10)
    event = orjson.loads(msg.data)
    assert event["type"] == "TargetReported" and event["subject"] == REPORTED.id
    assert event["payload"]["report"]["value"] == 12.5 and event["on"] == "2025-05-31"
    await sub.unsubscribe()


async def test_summary_has_status_counts_designations_and_pipeline(events_service, tokens):
    client, app, settings = events_service
    world = kit.World()
    school = world.project("school", date(2024, 1, 5))
    world.move(school, "building", date(2024, 3, 1))
    world.project("road", date(2024, 2, 1))
    firm = world.enterprise(date(2023, 5, 1), landed_on=date(2023, 5, 1))
    world.grant(firm, "high_tech", date(2024, 1, 1))
    world.grant(firm, "gazelle", date(2024, 1, 1), level="provincial", years=None)
    await kit.publish(app.state.runtime.js, settings, world.events)
    await kit.drained(app.state.runtime.js, settings)

    r = await client.get("/api/v1/targets/summary", headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == len(body["items"]) == len(load_catalogue())
    assert sum(body["by_status"].values()) == body["total"]
    assert {"chapter", "forecast_reserve"} <= set(body["items"][0])
    assert body["designations_by_type"] == [
        {"type": "gazelle", "count": 1},
        {"type": "high_tech", "count": 1},
    ]
    assert body["pipeline_by_stage_category"] == [
        {"stage": "building", "category": "school", "count": 1},
        {"stage": "reserve", "category": "road", "count": 1},
    ]
    before = (
        await client.get("/api/v1/targets/summary?as_of=2024-02-15", headers=auth(tokens["viewer"]))
    ).json()
    assert before["pipeline_by_stage_category"] == [
        {"stage": "reserve", "category": "road", "count": 1},
        {"stage": "reserve", "category": "school", "count": 1},
    ]


async def test_openapi_documents_the_status_thresholds(events_service):
    client, _, _ = events_service
    spec = (await client.get("/openapi.json")).json()
    described = spec["paths"]["/api/v1/targets"]["get"]["description"]
    assert "0.95" in described and "0.6" in described and "no_data" in described
