"""One business date everywhere: at 23:30 and at 00:30 UTC every service and the gateway agree
that it is the same day in the district (Asia/Shanghai), whatever the host's UTC date.

Each part runs on an injected clock (no pinned PLANTRACK_TODAY): the projects service refuses a
transition dated the district's tomorrow and accepts its today, naming the same today; the
enterprises service does the same for a grant; the events service judges targets on that day;
the gateway's overview counts a milestone as overdue exactly when the projects service does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest

from gateway.app import create_app as gateway_app
from gateway.sections import overdue_milestones
from services.enterprises.app import create_app as enterprises_app
from services.events.app import create_app as events_app
from services.projects.app import create_app as projects_app
from tests.conftest import auth, running_app
from tests.integration import enterprises_kit

DISTRICT_DAY = date(2026, 12, 2)
INSTANTS = {
    # 07:30 in Yantai, but still 1 December in UTC: the old UTC services said "2026-12-01"
    "23:30 UTC": datetime(2026, 12, 1, 23, 30, tzinfo=UTC),
    # 08:30 in Yantai, and 2 December in UTC too
    "00:30 UTC": datetime(2026, 12, 2, 0, 30, tzinfo=UTC),
}


@pytest.mark.parametrize("instant", list(INSTANTS), ids=list(INSTANTS))
async def test_services_and_gateway_agree_on_the_business_date(
    instant: str,
    settings_factory: Any,
    database_url_factory: Any,
    tokens: dict[str, str],
) -> None:
    at = INSTANTS[instant]

    def clock() -> datetime:
        return at

    settings = settings_factory(
        projects_database_url=database_url_factory("projects"),
        enterprises_database_url=database_url_factory("enterprises"),
        events_database_url=database_url_factory("events"),
        today=None,
    )
    tomorrow, today = "2026-12-03", DISTRICT_DAY.isoformat()
    yesterday = "2026-12-01"

    projects = projects_app(settings, clock=clock)
    async with running_app(projects) as c:
        await asyncio.wait_for(projects.state.runtime.nats_ready.wait(), 20)
        c.headers.update(auth(tokens["project_office"]))
        body = {"name": "时钟测试项目", "category": "school", "created_on": yesterday}
        p = (await c.post("/api/v1/projects", json=body)).json()
        r = await c.post(f"/api/v1/projects/{p['id']}/transitions", json={"to": "starting"})
        assert r.status_code == 200 and r.json()["stages"][-1]["on"] == today
        r = await c.post(
            f"/api/v1/projects/{p['id']}/transitions", json={"to": "building", "on": tomorrow}
        )
        assert r.status_code == 409 and f"(today is {today})" in r.json()["detail"]
        for due in (yesterday, today):
            r = await c.post(
                f"/api/v1/projects/{p['id']}/milestones",
                json={"title": f"节点{due}", "due_on": due},
            )
            assert r.status_code == 201
        detail = (await c.get(f"/api/v1/projects/{p['id']}")).json()
        service_overdue = [m["due_on"] for m in detail["milestones"] if m["overdue"]]
        assert service_overdue == [yesterday]

    async with running_app(enterprises_app(settings, clock=clock)) as c:
        c.headers.update(auth(tokens["investment_promotion"]))
        e = (await c.post("/api/v1/enterprises", json=enterprises_kit.enterprise(1))).json()
        url = f"/api/v1/enterprises/{e['id']}/designations"
        r = await c.post(url, json={"type": "high_tech", "granted_on": tomorrow})
        assert r.status_code == 422 and f"(today is {today})" in r.json()["detail"]
        r = await c.post(url, json={"type": "high_tech", "granted_on": today})
        assert r.status_code == 201, r.text

    async with running_app(events_app(settings, clock=clock)) as c:
        c.headers.update(auth(tokens["viewer"]))
        r = await c.get("/api/v1/targets", params={"limit": 1})
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["as_of"] == today

    gateway = gateway_app(settings, clock=clock)
    gateway_today = gateway.state.runtime.calendar.today()
    assert gateway_today == DISTRICT_DAY
    # the overview's alert list, judged by the gateway's date, over the service's own answer
    listed = overdue_milestones({"items": [detail]}, gateway_today)
    assert [m["due_on"] for m in listed] == service_overdue
