"""Milestones, monthly completed investment and blockers (难点堵点) over HTTP, with their events."""

from __future__ import annotations

from tests.integration import projects_kit as kit
from tests.integration.projects_kit import (
    Client,
    create,
    move,
    outbox_events,
    problem_locs,
)

client = kit.client  # the service on SQLite and PostgreSQL, as the project office


async def test_milestones_overdue_filter_and_done(client: Client) -> None:
    late = await create(client, name="迟了的项目")
    fine = await create(client, name="按期的项目")
    url = f"/api/v1/projects/{late['id']}/milestones"
    r = await client.post(url, json={"kind": "start", "title": "开工", "due_on": "2024-05-01"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["overdue"] is True and m["kind_label"] == "开工" and r.headers["etag"] == 'W/"1"'
    r = await client.post(
        f"/api/v1/projects/{fine['id']}/milestones",
        json={"kind": "completion", "title": "完工", "due_on": "2024-12-31"},
    )
    assert r.json()["overdue"] is False

    r = await client.get("/api/v1/projects", params={"overdue": "true"})
    assert [p["name"] for p in r.json()["items"]] == ["迟了的项目"]
    r = await client.get("/api/v1/projects", params={"overdue": "false"})
    assert [p["name"] for p in r.json()["items"]] == ["按期的项目"]

    r = await client.patch(f"{url}/{m['id']}", json={"done_on": "2024-05-20"})
    assert r.status_code == 428
    r = await client.patch(
        f"{url}/{m['id']}", json={"done_on": "2024-05-20"}, headers={"If-Match": 'W/"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["overdue"] is False and r.json()["version"] == 2
    assert (await client.get("/api/v1/projects", params={"overdue": "true"})).json()["total"] == 0

    added = outbox_events(client, "MilestoneAdded")
    [updated] = outbox_events(client, "MilestoneUpdated")
    assert len(added) == 2 and added[0].payload["milestone"]["title"] == "开工"
    assert updated.on.isoformat() == "2024-05-20"
    assert updated.payload == {
        "project_id": late["id"],
        "milestone": {
            "id": m["id"], "kind": "start", "title": "开工", "due_on": "2024-05-01",
            "done_on": "2024-05-20", "version": 2,
        },
    }  # fmt: skip
    detail = (await client.get(f"/api/v1/projects/{late['id']}")).json()
    assert [x["title"] for x in detail["milestones"]] == ["开工"]
    history = (await client.get(f"/api/v1/projects/{late['id']}/history")).json()["items"]
    assert history[-1]["entity"] == "milestone"
    assert history[-1]["changes"] == {"done_on": [None, "2024-05-20"]}


async def test_a_milestone_of_a_built_or_cancelled_project_is_not_overdue(
    client: Client,
) -> None:
    """A project that is built or cancelled has nothing left to be late for: its open past-due
    milestones are not overdue, in the milestone, the ledger's next milestone or ?overdue=."""
    names = {"built": "建成的学校", "cancelled": "取消的学校", "building": "在建的学校"}
    ids = {}
    for stage, name in names.items():
        p = await create(client, name=name, created_on="2023-01-01")
        ids[stage] = p["id"]
        r = await client.post(
            f"/api/v1/projects/{p['id']}/milestones",
            json={"kind": "acceptance", "title": "验收", "due_on": "2024-05-01"},
        )
        assert r.status_code == 201, r.text
        assert (await move(client, p["id"], stage, "2024-03-01")).status_code == 200

    for stage, pid in ids.items():
        detail = (await client.get(f"/api/v1/projects/{pid}")).json()
        assert [m["overdue"] for m in detail["milestones"]] == [stage == "building"], stage
        listed = (await client.get(f"/api/v1/projects/{pid}/milestones")).json()
        assert [m["overdue"] for m in listed] == [stage == "building"], stage
    ledger = (await client.get("/api/v1/projects/ledger", params={"sort": "name"})).json()
    late = {p["name"]: p["next_milestone"]["overdue"] for p in ledger["items"]}
    assert late == {"建成的学校": False, "取消的学校": False, "在建的学校": True}
    r = await client.get("/api/v1/projects", params={"overdue": "true"})
    assert [p["name"] for p in r.json()["items"]] == ["在建的学校"]
    r = await client.get("/api/v1/projects", params={"overdue": "false", "sort": "id"})
    assert [p["name"] for p in r.json()["items"]] == ["建成的学校", "取消的学校"]


async def test_a_blocker_of_a_built_or_cancelled_project_is_not_overdue(
    client: Client,
) -> None:
    """The milestones' rule holds for blockers too: an open past-due blocker of a built or
    cancelled project is not overdue, in the blocker itself, its lists and ?overdue=."""
    names = {"built": "建成的医院", "cancelled": "取消的医院", "building": "在建的医院"}
    ids = {}
    for stage, name in names.items():
        p = await create(client, name=name, created_on="2023-01-01")
        ids[stage] = p["id"]
        r = await client.post(
            f"/api/v1/projects/{p['id']}/blockers",
            json={
                "kind": "land",
                "description": name,
                "raised_on": "2024-02-01",
                "due_on": "2024-05-15",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["overdue"] is True
        assert (await move(client, p["id"], stage, "2024-03-01")).status_code == 200

    for stage, pid in ids.items():
        detail = (await client.get(f"/api/v1/projects/{pid}")).json()
        assert [b["overdue"] for b in detail["blockers"]] == [stage == "building"], stage
        listed = (await client.get(f"/api/v1/projects/{pid}/blockers")).json()["items"]
        assert [b["overdue"] for b in listed] == [stage == "building"], stage
        assert [b["open"] for b in listed] == [True], stage
    every = (await client.get("/api/v1/blockers", params={"open": "true"})).json()
    late = {b["description"]: b["overdue"] for b in every["items"]}
    assert late == {"建成的医院": False, "取消的医院": False, "在建的医院": True}
    assert all("project_stage" not in b for b in every["items"])
    r = await client.get("/api/v1/blockers", params={"overdue": "true"})
    assert [b["description"] for b in r.json()["items"]] == ["在建的医院"]
    assert r.json()["total"] == 1
    r = await client.get("/api/v1/blockers", params={"overdue": "false"})
    assert sorted(b["description"] for b in r.json()["items"]) == ["取消的医院", "建成的医院"]
    assert r.json()["total"] == 2


async def test_milestone_rules_are_422(client: Client) -> None:
    p = await create(client)
    url = f"/api/v1/projects/{p['id']}/milestones"
    r = await client.post(url, json={"kind": "party", "title": "x"})
    assert r.status_code == 422 and problem_locs(r) == [["kind"]]
    assert "approval" in r.json()["errors"][0]["msg"]
    r = await client.post(url, json={"kind": "land", "title": "x", "done_on": "2024-07-01"})
    assert r.status_code == 422 and "in the future" in r.json()["detail"]
    r = await client.patch(f"{url}/999", json={"title": "y"}, headers={"If-Match": "*"})
    assert r.status_code == 404


async def test_monthly_investment_adds_up_to_a_cumulative_share(client: Client) -> None:
    p = await create(client, total_investment_wan=10000)
    url = f"/api/v1/projects/{p['id']}/investment"
    r = await client.post(url, json={"month": "2024-03", "amount_wan": 1500})
    assert r.status_code == 201, r.text
    r = await client.post(url, json={"month": "2024-04", "amount_wan": 2500})
    body = r.json()
    assert body["cumulative_wan"] == 4000 and body["share"] == 0.4
    # a second report for March corrects it, naming the version it corrects
    r = await client.post(
        url, json={"month": "2024-03", "amount_wan": 1000}, headers={"If-Match": 'W/"1"'}
    )
    assert r.status_code == 201, r.text
    assert r.json()["cumulative_wan"] == 3500 and r.headers["etag"] == 'W/"2"'
    assert [m["month"] for m in r.json()["months"]] == ["2024-03", "2024-04"]
    project = (await client.get(f"/api/v1/projects/{p['id']}")).json()
    assert project["completed_investment_wan"] == 3500 and project["investment_share"] == 0.35
    events = outbox_events(client, "InvestmentReported")
    assert [e.on.isoformat() for e in events] == ["2024-03-01", "2024-04-01", "2024-03-01"]
    assert events[-1].payload == {
        "project_id": p["id"], "month": "2024-03", "amount_wan": 1000.0, "cumulative_wan": 3500,
    }  # fmt: skip
    history = (await client.get(f"/api/v1/projects/{p['id']}/history")).json()["items"]
    assert history[-1]["action"] == "correct"
    assert history[-1]["changes"]["amount_wan"] == [1500.0, 1000.0]
    assert history[-1]["actor"] == "project_office-tester"


async def test_a_second_report_for_a_month_needs_if_match_or_is_a_conflict(client: Client) -> None:
    p = await create(client, total_investment_wan=10000)
    url = f"/api/v1/projects/{p['id']}/investment"
    r = await client.post(url, json={"month": "2024-03", "amount_wan": 1500})
    assert r.status_code == 201 and r.headers["etag"] == 'W/"1"'
    r = await client.post(url, json={"month": "2024-03", "amount_wan": 900})
    assert r.status_code == 409
    assert r.json()["current_version"] == 1 and r.json()["amount_wan"] == 1500
    assert "already reported (1,500 " in r.json()["detail"] and "If-Match" in r.json()["detail"]
    r = await client.post(
        url, json={"month": "2024-03", "amount_wan": 900}, headers={"Accept-Language": "zh"}
    )
    assert r.json()["title"] == "冲突" and "已填报（1,500 万元，第 1 版）" in r.json()["detail"]
    r = await client.post(
        url, json={"month": "2024-03", "amount_wan": 900}, headers={"If-Match": '"7"'}
    )
    assert r.status_code == 412 and r.json()["current_version"] == 1
    assert (await client.get(url)).json()["cumulative_wan"] == 1500  # nothing changed
    r = await client.post(url, json={"month": "2024-03", "amount_wan": 1200, "correction": True})
    assert r.status_code == 201 and r.json()["version"] == 2
    assert r.json()["cumulative_wan"] == 1200
    history = (await client.get(f"/api/v1/projects/{p['id']}/history")).json()["items"]
    assert [(h["action"], h["changes"]["amount_wan"]) for h in history[-2:]] == [
        ("report", [None, 1500.0]),
        ("correct", [1500.0, 1200.0]),
    ]
    assert len(outbox_events(client, "InvestmentReported")) == 2


async def test_investment_rules_are_422(client: Client) -> None:
    p = await create(client)
    url = f"/api/v1/projects/{p['id']}/investment"
    r = await client.post(url, json={"month": "2024-13", "amount_wan": 1})
    assert r.status_code == 422 and problem_locs(r) == [["month"]]
    r = await client.post(url, json={"month": "2024-07", "amount_wan": 1})
    assert r.status_code == 422 and "has not begun" in r.json()["detail"]
    r = await client.post(url, json={"month": "2024-05", "amount_wan": -5})
    assert r.status_code == 422 and problem_locs(r) == [["amount_wan"]]
    assert outbox_events(client, "InvestmentReported") == []


async def test_blockers_are_listed_open_and_overdue_and_resolve_with_an_event(
    client: Client,
) -> None:
    a = await create(client, name="甲项目")
    b = await create(client, name="乙项目")
    r = await client.post(
        f"/api/v1/projects/{a['id']}/blockers",
        json={
            "kind": "land", "description": "用地指标未落实",
            "responsible_department": "区自然资源局", "raised_on": "2024-05-01",
            "due_on": "2024-05-15",
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    late = r.json()
    assert late["open"] and late["overdue"] and late["kind_label"] == "用地保障"
    assert late["raised_on"] == "2024-05-01" and late["project_name"] == "甲项目"
    r = await client.post(
        f"/api/v1/projects/{b['id']}/blockers",
        json={"kind": "funding", "description": "资金缺口", "due_on": "2024-09-30"},
    )
    assert r.status_code == 201

    all_open = (await client.get("/api/v1/blockers", params={"open": "true"})).json()
    assert all_open["total"] == 2
    overdue = (await client.get("/api/v1/blockers", params={"overdue": "true"})).json()
    assert [x["description"] for x in overdue["items"]] == ["用地指标未落实"]
    mine = (await client.get(f"/api/v1/projects/{a['id']}/blockers")).json()
    assert mine["total"] == 1

    url = f"/api/v1/projects/{a['id']}/blockers/{late['id']}"
    r = await client.patch(
        url,
        json={"resolved_on": "2024-05-30", "resolution": "调剂用地指标"},
        headers={"If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["open"] is False and r.json()["overdue"] is False
    assert (await client.get("/api/v1/blockers", params={"open": "true"})).json()["total"] == 1
    [resolved] = outbox_events(client, "BlockerResolved")
    assert resolved.on.isoformat() == "2024-05-30"
    assert resolved.payload["blocker"]["resolution"] == "调剂用地指标"
    assert len(outbox_events(client, "BlockerRaised")) == 2
    r = await client.patch(url, json={"resolution": "改"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 412


async def test_blocker_rules_are_422(client: Client) -> None:
    p = await create(client)
    url = f"/api/v1/projects/{p['id']}/blockers"
    r = await client.post(url, json={"kind": "weather", "description": "下雨"})
    assert r.status_code == 422 and problem_locs(r) == [["kind"]]
    r = await client.post(
        url, json={"description": "x", "raised_on": "2024-05-01", "due_on": "2024-04-01"}
    )
    assert r.status_code == 422 and problem_locs(r) == [["due_on"]]
    r = await client.post(url, json={"description": "x", "resolution": "已解决"})
    assert r.status_code == 422 and problem_locs(r) == [["resolved_on"]]
    assert outbox_events(client, "BlockerRaised") == []
