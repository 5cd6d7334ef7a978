"""Errors say what happened: bare numbers and far dates are not dates, `q` is text, times have
an offset."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth
from tests.integration import enterprises_kit as ekit
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, create, problem_locs
from tests.integration.test_events_api import REPORTED

client = kit.client


async def test_a_bare_number_is_not_a_date(client: Client) -> None:
    project = await create(client)
    for on in (0, "0", 1717200000):
        r = await client.post(
            f"/api/v1/projects/{project['id']}/transitions", json={"to": "starting", "on": on}
        )
        assert r.status_code == 422, (on, r.text)
        assert problem_locs(r) == [["on"]]
        assert "is not a date" in r.json()["errors"][0]["msg"]


async def test_a_date_near_year_9999_is_refused_not_a_500(client: Client) -> None:
    r = await client.post(
        "/api/v1/projects", json=kit.project_body(planned_completion="9999-12-31")
    )
    assert r.status_code == 422, r.text
    assert problem_locs(r) == [["planned_completion"]]
    assert (await client.get("/api/v1/projects")).json()["total"] == 0


async def test_like_wildcards_in_q_are_plain_characters(client: Client) -> None:
    await create(client, name="达标率100%工程")
    await create(client, name="普通_工程")
    await create(client, name="另一个工程")
    for q, names in (("%", ["达标率100%工程"]), ("_", ["普通_工程"]), ("工程", None)):
        items = (await client.get("/api/v1/projects", params={"q": q})).json()["items"]
        assert names is None or [i["name"] for i in items] == names, (q, items)
    assert (await client.get("/api/v1/projects", params={"q": "%%"})).json()["total"] == 0


async def test_query_dates_refuse_bare_numbers(settings_factory, database_url_factory, tokens):
    url = database_url_factory("enterprises")
    async with ekit.enterprises_service(settings_factory, url) as svc:
        viewer = auth(tokens["viewer"])
        for on in ("0", "99999", "9999-12-31"):
            r = await svc.client.get(
                "/api/v1/designations/by-type", params={"on": on}, headers=viewer
            )
            assert r.status_code == 422, (on, r.text)
            assert ["query", "on"] in problem_locs(r)
        r = await svc.client.get(
            "/api/v1/designations/by-type", params={"on": "2024-06-01"}, headers=viewer
        )
        assert r.status_code == 200


async def test_reported_at_carries_its_offset(events_service: Any, tokens) -> None:
    events, _, _ = events_service
    url = f"/api/v1/targets/{REPORTED.id}/reports"
    r = await events.post(url, json={"value": 3, "period": "2024"}, headers=auth(tokens["admin"]))
    assert r.status_code == 201, r.text
    stamp = r.json()["reported_at"]
    assert stamp.endswith(("Z", "+00:00")), stamp
    r = await events.get(url, headers=auth(tokens["viewer"]))
    assert all(item["reported_at"].endswith(("Z", "+00:00")) for item in r.json()["items"])
    r = await events.get("/api/v1/targets", params={"as_of": "0"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 422
