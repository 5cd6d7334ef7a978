"""The project ledger over HTTP: registration, validation, search, concurrency and history."""

from __future__ import annotations

import asyncio

from services.common.contracts.categories import CATEGORY_LABELS
from tests.conftest import auth
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import (
    Client,
    create,
    outbox_events,
    problem_locs,
    project_body,
)

CODE = "2023-370602-47-01-123456"


client = kit.client  # the service on SQLite and PostgreSQL, as the project office


async def test_create_answers_201_with_id_stage_version_and_etag(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=project_body(code=CODE))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stage"] == "reserve" and body["version"] == 1 and body["id"] > 0
    assert r.headers["etag"] == 'W/"1"'
    assert body["category_label"] == "学校" and body["created_on"] == "2024-06-01"
    assert body["stages"] == [{"stage": "reserve", "on": "2024-06-01", "ordinal": 0, "note": None}]
    assert body["quantity_unit"] == "所"  # the category's unit when none is given
    [event] = outbox_events(client, "ProjectRegistered")
    assert event.on.isoformat() == "2024-06-01" and event.subject == str(body["id"])
    assert event.payload["project"]["code"] == CODE


async def test_create_in_a_later_stage_with_a_backdated_created_on(client: Client) -> None:
    p = await create(client, stage="building", created_on="2023-05-10")
    assert p["stage"] == "building" and p["created_on"] == "2023-05-10"
    assert p["stages"][0] == {"stage": "building", "on": "2023-05-10", "ordinal": 0, "note": None}


async def test_unknown_category_is_422_listing_the_allowed_ones(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=project_body(category="spaceport"))
    assert r.status_code == 422
    assert problem_locs(r) == [["category"]]
    msg = r.json()["errors"][0]["msg"]
    assert "spaceport" in msg and "school (学校)" in msg and "pocket_park" in msg
    assert all(key in msg for key in CATEGORY_LABELS)


async def test_project_code_is_checked_for_shape_year_and_region(client: Client) -> None:
    cases = {
        "2023-370602-47-01-12345": "expected YYYY-RRRRRR-NN-NN-NNNNNN",
        "2031-370602-47-01-123456": "in the future",
        "2019-370602-47-01-123456": "too early",
        "2023-990602-47-01-123456": "not a GB/T 2260 division",
    }
    for code, reason in cases.items():
        r = await client.post("/api/v1/projects", json=project_body(code=code))
        assert r.status_code == 422, code
        assert problem_locs(r) == [["code"]]
        assert reason in r.json()["errors"][0]["msg"]
    assert outbox_events(client) == []


async def test_completion_before_start_is_422(client: Client) -> None:
    body = project_body(planned_start="2025-01-01", planned_completion="2024-12-31")
    r = await client.post("/api/v1/projects", json=body)
    assert r.status_code == 422
    assert problem_locs(r) == [["planned_completion"]]
    assert "before the planned start" in r.json()["detail"]


async def test_negative_money_and_quantity_are_422(client: Client) -> None:
    r = await client.post(
        "/api/v1/projects", json=project_body(total_investment_wan=-1, quantity=-2)
    )
    assert r.status_code == 422
    assert sorted(problem_locs(r)) == [["quantity"], ["total_investment_wan"]]


async def test_missing_name_bad_level_and_bad_date_are_all_reported(client: Client) -> None:
    body = project_body(level="county", planned_start="2024-02-30")
    del body["name"]
    r = await client.post("/api/v1/projects", json=body)
    assert r.status_code == 422
    assert sorted(problem_locs(r)) == [["level"], ["name"], ["planned_start"]]


async def test_created_on_in_the_future_is_422(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=project_body(created_on="2024-06-02"))
    assert r.status_code == 422
    assert "in the future" in r.json()["detail"]


async def test_an_existing_code_is_409_naming_the_project(client: Client) -> None:
    first = await create(client, code=CODE)
    r = await client.post("/api/v1/projects", json=project_body(code=CODE, name="另一个"))
    assert r.status_code == 409
    assert r.json()["existing_id"] == first["id"]
    assert f"already registered to project {first['id']}" in r.json()["detail"]


async def test_list_filters_searches_and_paginates(client: Client) -> None:
    await create(client, name="向阳小学", sub_district="向阳街道")
    await create(client, name="只楚小学", sub_district="只楚街道", level="city")
    await create(client, name="芝罘医院", category="hospital", sub_district="向阳街道")
    await create(client, name="口袋公园", category="pocket_park", code=CODE)

    async def names(**params: object) -> tuple[list[str], int]:
        r = await client.get("/api/v1/projects", params=params)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]], r.json()["total"]

    assert await names(category="school") == (["向阳小学", "只楚小学"], 2)
    assert await names(sub_district="向阳街道", category="hospital") == (["芝罘医院"], 1)
    assert await names(level="city") == (["只楚小学"], 1)
    assert await names(q="小学") == (["向阳小学", "只楚小学"], 2)
    assert await names(q="370602") == (["口袋公园"], 1)
    assert await names(stage="built") == ([], 0)
    assert await names(limit=2, offset=1) == (["只楚小学", "芝罘医院"], 4)
    assert await names(sort="-id", limit=1) == (["口袋公园"], 4)


async def test_list_refuses_a_limit_over_500_and_unknown_filters_values(client: Client) -> None:
    r = await client.get("/api/v1/projects", params={"limit": 501})
    assert r.status_code == 422 and problem_locs(r) == [["query", "limit"]]
    r = await client.get("/api/v1/projects", params={"category": "spaceport"})
    assert r.status_code == 422 and "school" in r.json()["detail"]
    r = await client.get("/api/v1/projects", params={"stage": "dreaming"})
    assert r.status_code == 422 and "reserve" in r.json()["detail"]


async def test_patch_without_if_match_is_428(client: Client) -> None:
    p = await create(client)
    r = await client.patch(f"/api/v1/projects/{p['id']}", json={"name": "新名称"})
    assert r.status_code == 428
    assert "If-Match is required" in r.json()["detail"]


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(client: Client) -> None:
    p = await create(client)
    url = f"/api/v1/projects/{p['id']}"
    r = await client.patch(url, json={"name": "第一次"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.headers["etag"] == 'W/"2"'
    r = await client.patch(url, json={"name": "第二次"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 412
    assert "version 2" in r.json()["detail"]
    assert (await client.get(url)).json()["name"] == "第一次"


async def test_two_clients_patching_with_the_same_if_match_exactly_one_wins(
    client: Client,
) -> None:
    p = await create(client)
    url = f"/api/v1/projects/{p['id']}"
    results = await asyncio.gather(
        *(
            client.patch(url, json={"lead_department": f"部门{i}"}, headers={"If-Match": 'W/"1"'})
            for i in range(2)
        )
    )
    assert sorted(r.status_code for r in results) == [200, 412]
    after = (await client.get(url)).json()
    assert after["version"] == 2
    assert len(outbox_events(client, "ProjectUpdated")) == 1


async def test_patch_records_who_when_and_each_field_before_after(client: Client) -> None:
    p = await create(client)
    r = await client.patch(
        f"/api/v1/projects/{p['id']}",
        json={"total_investment_wan": 15000, "planned_completion": "2025-12-31"},
        headers={"If-Match": r'W/"1"'},
    )
    assert r.status_code == 200, r.text
    history = (await client.get(f"/api/v1/projects/{p['id']}/history")).json()
    assert history["total"] == 2
    change = history["items"][1]
    assert change["actor"] == "project_office-tester" and change["action"] == "update"
    assert change["version"] == 2 and change["at"].endswith(("Z", "+00:00"))
    assert change["changes"] == {
        "total_investment_wan": [12000.0, 15000.0],
        "planned_completion": ["2025-08-31", "2025-12-31"],
    }
    [event] = outbox_events(client, "ProjectUpdated")
    assert event.payload["changes"] == change["changes"]
    assert event.payload["project"]["version"] == 2


async def test_patch_cannot_change_the_stage_or_break_the_rules(client: Client) -> None:
    p = await create(client)
    url, match = f"/api/v1/projects/{p['id']}", {"If-Match": 'W/"1"'}
    r = await client.patch(url, json={"stage": "built"}, headers=match)
    assert r.status_code == 422 and problem_locs(r) == [["stage"]]
    r = await client.patch(url, json={"planned_start": "2026-01-01"}, headers=match)
    assert r.status_code == 422 and problem_locs(r) == [["planned_completion"]]
    r = await client.patch(url, json={"name": None}, headers=match)
    assert r.status_code == 422
    assert (await client.get(url)).json()["version"] == 1


async def test_roles_and_tokens_are_enforced(client: Client, tokens: dict[str, str]) -> None:
    r = await client.post("/api/v1/projects", json=project_body(), headers=auth(tokens["viewer"]))
    assert r.status_code == 403 and "write_projects" in r.json()["detail"]
    r = await client.get("/api/v1/projects", headers={"Authorization": ""})
    assert r.status_code == 401
    r = await client.get("/api/v1/projects", headers=auth(tokens["viewer"]))
    assert r.status_code == 200


async def test_an_unknown_project_is_404(client: Client) -> None:
    r = await client.get("/api/v1/projects/999")
    assert r.status_code == 404 and "no project 999" in r.json()["detail"]


async def test_hostile_input_is_a_422_never_a_500(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=project_body(name="学校\x00"))
    assert r.status_code == 422 and problem_locs(r) == [["name"]]
    raw = '{"name": "x", "category": "school", "total_investment_wan": 1e400}'
    r = await client.post(
        "/api/v1/projects", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and problem_locs(r) == [["total_investment_wan"]]
    r = await client.get("/api/v1/projects/99999999999")
    assert r.status_code == 422 and problem_locs(r) == [["path", "project_id"]]
    r = await client.get("/api/v1/projects", params={"q": "a\x00"})
    assert r.status_code == 422 and problem_locs(r) == [["query", "q"]]
    r = await client.get("/api/v1/projects", params={"offset": 2**40})
    assert r.status_code == 422 and problem_locs(r) == [["query", "offset"]]
