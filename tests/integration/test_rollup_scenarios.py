"""Worked cases of the roll-up: certificates entering and leaving a stock on their dates, the
project pipeline's forecast, and the live notices dashboards read."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from tests.conftest import auth
from tests.integration import rollup_kit as kit

TODAY = kit.TODAY


async def feed(app, settings, world: kit.World) -> None:
    js = app.state.runtime.js
    await kit.publish(js, settings, kit.shuffled(world.events))
    await kit.drained(js, settings)


async def target(client, token: str, target_id: str, at: date) -> dict:
    r = await client.get(
        f"/api/v1/targets/{target_id}", params={"as_of": at.isoformat()}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_revoked_or_expired_certificate_leaves_the_stock_from_its_date(
    events_service, tokens
):
    client, app, settings = events_service
    world = kit.World()
    a, b, c = (world.enterprise(date(2020, 1, 1)) for _ in range(3))
    revoked = world.grant(a, "high_tech", date(2023, 3, 1))  # valid to 2026-02-28
    world.revoke(revoked, date(2024, 5, 10))
    expired = world.grant(b, "high_tech", date(2021, 12, 1))  # valid through 2024-11-30
    world.expire(expired)
    old = world.grant(c, "high_tech", date(2022, 1, 1))  # valid through 2024-12-31
    world.grant(c, "high_tech", date(2024, 12, 20), renews=old)
    await feed(app, settings, world)

    viewer = tokens["viewer"]
    stock = {
        at: (await target(client, viewer, "high_tech_enterprises", date(*at)))["current_value"]
        for at in [
            (2023, 2, 28),
            (2023, 3, 1),
            (2024, 5, 9),
            (2024, 5, 10),
            (2024, 11, 30),
            (2024, 12, 1),
            (2025, 1, 5),
        ]
    }
    assert stock == {
        (2023, 2, 28): 2,
        (2023, 3, 1): 3,
        (2024, 5, 9): 3,
        (2024, 5, 10): 2,
        (2024, 11, 30): 2,
        (2024, 12, 1): 1,
        (2025, 1, 5): 1,
    }

    before = await target(client, viewer, "high_tech_enterprises", date(2024, 5, 9))
    assert [(p["kind"], p["id"]) for p in before["contributors"]] == [
        ("enterprise", b),
        ("enterprise", c),
        ("enterprise", a),
    ]
    assert before["contributors"][0]["designations"][0]["expires_on"] == "2024-11-30"
    # What the deadline holds, as known that day: b and c lapse unless renewed; a's later
    # revocation is not known yet.
    assert (before["forecast"], before["forecast_lapsing"]) == (1, 2)
    months = {p["month"]: p["value"] for p in before["series"]}
    assert (months["2023-02"], months["2023-03"], months["2024-04"]) == (2, 3, 3)
    assert "2024-06" not in months, "the series stops at as_of"


async def test_the_pipeline_forecast_counts_what_is_due_before_the_deadline(events_service, tokens):
    client, app, settings = events_service
    world = kit.World()
    done = world.project("school", date(2023, 2, 1), planned_completion=date(2024, 8, 31))
    world.move(done, "building", date(2023, 5, 1))
    world.move(done, "built", date(2024, 9, 1))
    due = world.project("school", date(2024, 1, 1), planned_completion=date(2025, 9, 30))
    world.move(due, "starting", date(2024, 3, 1))
    late = world.project("school", date(2024, 1, 1), planned_completion=date(2026, 6, 30))
    world.move(late, "building", date(2024, 3, 1))
    world.project("school", date(2024, 2, 1), planned_completion=date(2025, 12, 1))  # reserve
    gone = world.project("school", date(2023, 2, 1), planned_completion=date(2025, 1, 1))
    world.move(gone, "building", date(2023, 5, 1))
    world.move(gone, "cancelled", date(2024, 2, 1))
    await feed(app, settings, world)

    view = await target(client, tokens["viewer"], "schools", TODAY)
    assert (view["current_value"], view["forecast"], view["forecast_reserve"]) == (1, 2, 1)
    assert [(p["id"], p["counted_on"]) for p in view["contributors"]] == [(done, "2024-09-01")]
    assert view["status"] == "behind"  # 1 of 13 where the pace expects about 11
    assert view["expected_now"] == pytest.approx(13 * 912 / 1096, abs=1e-3)
    before = await target(client, tokens["viewer"], "schools", date(2024, 8, 31))
    assert (before["current_value"], before["contributors"]) == (0, [])
    assert before["status"] == "no_data"
    # Then: the first two under way and due in time, the reserve one apart; the cancelled one
    # had already been dropped, the late one is due after the deadline.
    assert (before["forecast"], before["forecast_reserve"]) == (2, 1)


async def test_target_changes_are_announced_on_the_live_stream(events_service, tokens):
    client, app, settings = events_service
    js = app.state.runtime.js
    sub = await js.subscribe(f"{settings.live_subjects}.>", ordered_consumer=True)
    world = kit.World()
    school = world.project("school", date(2024, 1, 5), planned_completion=date(2025, 1, 1))
    world.move(school, "built", date(2025, 3, 1))
    await kit.publish(js, settings, world.events)
    await kit.drained(js, settings)

    seen: dict[str, dict] = {}
    while "target.schools" not in seen:
        msg = await sub.next_msg(timeout=10)
        seen[msg.subject.removeprefix(settings.live_subjects + ".")] = orjson.loads(msg.data)
    await sub.unsubscribe()
    # The stage change itself is the projects service's to announce, as it relays it.
    assert not [s for s in seen if s.startswith("project.")]
    progress = seen["target.schools"]
    assert progress["type"] == "TargetProgressChanged" and progress["producer"] == "events"
    assert progress["payload"]["target"]["current_value"] == 1
    assert progress["payload"]["target"]["status"] in ("behind", "at_risk")
    metrics = (await client.get("/metrics")).text
    assert 'plantrack_target_current_value{clause="50",target="schools"} 1.0' in metrics
