"""What the workbench pages read from the projects service: the ledger page's columns and
filters, the vocabulary, the transition dry check and the import template."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, create, move

client = kit.client  # the service on SQLite and PostgreSQL, as the project office


async def test_ledger_rows_carry_the_next_open_milestone_and_the_open_blockers(
    client: Client,
) -> None:
    late = await create(client, name="逾期学校")
    calm = await create(client, name="平稳学校")
    url = f"/api/v1/projects/{late['id']}"
    for title, due, done in (
        ("立项", "2024-01-10", "2024-01-09"),  # done: not the next one
        ("开工", "2024-05-01", None),  # the earliest open one, past due on 2024-06-01
        ("封顶", "2024-09-01", None),
    ):
        body = {"title": title, "due_on": due, "done_on": done}
        assert (await client.post(f"{url}/milestones", json=body)).status_code == 201
    for description in ("资金未到位", "用地未落实"):
        r = await client.post(f"{url}/blockers", json={"description": description})
        assert r.status_code == 201, r.text

    r = await client.get("/api/v1/projects/ledger", params={"sort": "name"})
    assert r.status_code == 200, r.text
    rows = {row["name"]: row for row in r.json()["items"]}
    assert r.json()["total"] == 2
    assert rows["逾期学校"]["next_milestone"]["title"] == "开工"
    assert rows["逾期学校"]["next_milestone"]["due_on"] == "2024-05-01"
    assert rows["逾期学校"]["next_milestone"]["overdue"] is True
    assert rows["逾期学校"]["open_blockers"] == 2
    assert rows["平稳学校"]["next_milestone"] is None and rows["平稳学校"]["open_blockers"] == 0
    assert rows["平稳学校"]["stage_label"] == "储备"  # the plain list's fields are all there

    r = await client.get("/api/v1/projects/ledger", params={"has_open_blockers": "true"})
    assert [p["id"] for p in r.json()["items"]] == [late["id"]]
    r = await client.get("/api/v1/projects", params={"has_open_blockers": "false"})
    assert [p["id"] for p in r.json()["items"]] == [calm["id"]]


async def test_the_batch_filter_is_the_pipelines_own_batch(client: Client) -> None:
    built = await create(
        client, name="当年建成", planned_completion="2024-05-31", created_on="2024-01-10"
    )
    reserve = await create(client, name="储备项目", planned_start="2025-03-01")
    assert (await move(client, built["id"], "built", "2024-05-20")).status_code == 200
    pipeline = (await client.get("/api/v1/pipeline", params={"year": 2024})).json()
    expected = {b["batch"]: {p["id"] for p in b["projects"]} for b in pipeline["batches"]}
    for batch in ("built", "reserve"):
        r = await client.get("/api/v1/projects/ledger", params={"batch": batch, "year": 2024})
        assert {p["id"] for p in r.json()["items"]} == expected[batch]
    assert expected["built"] == {built["id"]} and reserve["id"] in expected["reserve"]
    r = await client.get("/api/v1/projects/ledger", params={"batch": "someday"})
    assert r.status_code == 422


async def test_sorting_by_a_ledger_column_descending(client: Client) -> None:
    for name, total in (("甲", 100), ("乙", 300), ("丙", 200)):
        await create(client, name=name, total_investment_wan=total)
    r = await client.get("/api/v1/projects/ledger", params={"sort": "-total_investment_wan"})
    assert [p["total_investment_wan"] for p in r.json()["items"]] == [300, 200, 100]
    r = await client.get("/api/v1/projects/ledger", params={"sort": "total_investment_wan"})
    assert [p["total_investment_wan"] for p in r.json()["items"]] == [100, 200, 300]


async def test_the_vocabulary_gives_every_list_with_its_chinese_label_and_the_moves(
    client: Client,
) -> None:
    r = await client.get("/api/v1/projects/vocabulary")
    assert r.status_code == 200, r.text
    words = r.json()
    assert words["today"] == kit.TODAY
    assert {"key": "school", "label": "学校", "unit": "所"} in words["categories"]
    assert {"key": "building", "label": "在建"} in words["stages"]
    assert words["stage_order"] == ["reserve", "starting", "building", "built"]
    assert words["moves"]["starting"] == ["building", "built", "cancelled"]
    assert words["moves"]["built"] == []
    assert "向阳街道" in words["sub_districts"]
    assert words["ledger_headers"]["name"] == "项目名称"


async def test_a_dry_run_transition_answers_the_refusal_and_writes_nothing(
    client: Client,
) -> None:
    p = await create(client, created_on="2024-02-01")
    url = f"/api/v1/projects/{p['id']}/transitions?dry_run=true"
    r = await client.post(url, json={"to": "starting", "on": "2024-01-15"})
    assert r.status_code == 409
    assert r.json()["errors"][0]["loc"] == ["on"]
    r = await client.post(url, json={"to": "reserve", "on": "2024-03-01"})
    assert r.status_code == 409
    r = await client.post(url, json={"to": "starting", "on": "2024-03-01"})
    assert r.status_code == 200, r.text
    after = (await client.get(f"/api/v1/projects/{p['id']}")).json()
    assert after["stage"] == "reserve" and after["version"] == p["version"]
    history = (await client.get(f"/api/v1/projects/{p['id']}/history")).json()
    assert [e["action"] for e in history["items"]] == ["create"]


async def test_the_import_template_has_the_ledger_columns_and_no_projects(
    client: Client,
) -> None:
    await create(client)
    r = await client.get("/api/v1/projects/export", params={"format": "xlsx", "template": "true"})
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(row for row in rows if row and "项目名称" in row)
    assert rows[-1] == header  # nothing after the header
