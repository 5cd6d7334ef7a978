"""The services themselves enforce a person's sub-district scope and record who made a change.

The caller is a person as the gateway presents one: a signed identity carrying username,
display name, roles and scope. The services are called directly, so what is proven here holds
even for a caller that bypasses the gateway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.common.auth import issue_identity
from services.common.settings import Settings
from services.projects.ledger import EXPORT_HEADERS
from tests.conftest import TEST_SECRET, auth
from tests.integration import projects_kit as kit
from tests.integration.enterprises_kit import Service, enterprise, enterprises_service

client = kit.client  # the projects service on SQLite and PostgreSQL, as the project office
OURS, THEIRS = "向阳街道", "只楚街道"


def person(roles: list[str], scope: list[str]) -> dict[str, str]:
    token = issue_identity(
        TEST_SECRET,
        username="li.min",
        display_name="项目办 李敏",
        roles=roles,
        sub_districts=scope,
    )
    return auth(token)


def refused_naming_the_scope(r: Any) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert OURS in r.json()["detail"] and r.json()["scope"] == [OURS]


async def csv_of(c: Any, path: str, headers: dict[str, str] | None = None, **params: str) -> bytes:
    r = await c.get(path, params={"format": "csv", **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.content


async def test_a_scoped_person_changes_projects_of_their_sub_district_only(
    client: kit.Client,
) -> None:
    me = person(["project_office"], [OURS])
    ours = await kit.create(client, name="向阳街道口袋公园", sub_district=OURS)
    theirs = await kit.create(client, name="只楚街道口袋公园", sub_district=THEIRS)
    due = {"kind": "start", "title": "开工", "due_on": "2024-09-01"}
    blocker = {"kind": "land", "description": "用地", "due_on": "2024-09-01"}
    for project, allowed in ((ours, True), (theirs, False)):
        base = f"/api/v1/projects/{project['id']}"
        calls = [
            ("PATCH", base, {"lead_department": "区住建局"}, {"If-Match": '"1"'}),
            ("POST", f"{base}/transitions", {"to": "starting", "on": kit.TODAY}, {}),
            ("POST", f"{base}/milestones", due, {}),
            ("POST", f"{base}/investment", {"month": "2024-05", "amount_wan": 10}, {}),
            ("POST", f"{base}/blockers", blocker, {}),
        ]
        for method, path, body, extra in calls:
            r = await client.request(method, path, json=body, headers={**me, **extra})
            if allowed:
                assert r.status_code in (200, 201), (path, r.text)
            else:
                refused_naming_the_scope(r)
    # Children of a project in scope may be changed; of one outside, not.
    mid = (await client.get(f"/api/v1/projects/{ours['id']}/milestones")).json()[0]["id"]
    r = await client.patch(
        f"/api/v1/projects/{ours['id']}/milestones/{mid}",
        json={"done_on": "2024-05-02"},
        headers={**me, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text


async def test_a_scoped_person_cannot_create_move_or_import_outside_their_scope(
    client: kit.Client,
) -> None:
    me = person(["project_office"], [OURS])
    body = kit.project_body(name="新建学校", sub_district=THEIRS)
    refused_naming_the_scope(await client.post("/api/v1/projects", json=body, headers=me))
    # No sub-district at all is outside a scope too: the record would belong to nobody's.
    body = kit.project_body(name="新建学校", sub_district=None)
    refused_naming_the_scope(await client.post("/api/v1/projects", json=body, headers=me))
    ours = await kit.create(client, name="向阳街道学校", sub_district=OURS)
    r = await client.patch(
        f"/api/v1/projects/{ours['id']}",
        json={"sub_district": THEIRS},
        headers={**me, "If-Match": '"1"'},
    )
    refused_naming_the_scope(r)

    theirs = await kit.create(client, name="只楚街道学校", sub_district=THEIRS)
    sheet = await csv_of(client, "/api/v1/projects/export", sub_district=THEIRS)
    edited = sheet.decode("utf-8-sig").replace("区教体局", "区住建局").encode()
    assert edited != sheet
    files = {"file": ("ledger.csv", edited, "text/csv")}
    refused_naming_the_scope(await client.post("/api/v1/projects/import", files=files, headers=me))
    # The same row without its id: a new project of another sub-district, refused too.
    rows = list(csv.reader(io.StringIO(sheet.decode("utf-8-sig"))))
    rows[1][rows[0].index(EXPORT_HEADERS["id"])] = ""
    rows[1][rows[0].index("项目名称")] = "只楚街道新学校"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    files = {"file": ("ledger.csv", out.getvalue().encode(), "text/csv")}
    refused_naming_the_scope(await client.post("/api/v1/projects/import", files=files, headers=me))
    after = await client.get(f"/api/v1/projects/{theirs['id']}")
    assert after.json()["version"] == 1
    total = (await client.get("/api/v1/projects")).json()["total"]
    assert total == 2  # nothing imported


async def test_an_unscoped_person_and_an_operations_token_change_any_sub_district(
    client: kit.Client, tokens: dict[str, str]
) -> None:
    for headers in (person(["project_office"], []), auth(tokens["project_office"])):
        body = kit.project_body(sub_district=THEIRS)
        r = await client.post("/api/v1/projects", json=body, headers=headers)
        assert r.status_code == 201, r.text


async def test_project_history_names_the_person(client: kit.Client) -> None:
    me = person(["project_office", "viewer"], [OURS])
    r = await client.post("/api/v1/projects", json=kit.project_body(), headers=me)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await client.post(
        f"/api/v1/projects/{pid}/milestones", json={"kind": "start", "title": "开工"}, headers=me
    )
    assert r.status_code == 201, r.text
    history = (await client.get(f"/api/v1/projects/{pid}/history")).json()["items"]
    assert [(h["actor"], h["actor_name"]) for h in history] == [("li.min", "项目办 李敏")] * 2
    # An operations token names no person: its subject only.
    r = await client.patch(
        f"/api/v1/projects/{pid}", json={"lead_department": "区住建局"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    last = (await client.get(f"/api/v1/projects/{pid}/history")).json()["items"][-1]
    assert last["actor"] == "project_office-tester" and last["actor_name"] is None


@pytest.fixture
async def svc(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
) -> AsyncIterator[Service]:
    async with enterprises_service(settings_factory, database_url_factory("enterprises")) as s:
        yield s


async def test_a_scoped_person_changes_enterprises_of_their_sub_district_only(
    svc: Service, tokens: dict[str, str]
) -> None:
    me = person(["investment_promotion"], [OURS])
    ops = auth(tokens["investment_promotion"])
    c = svc.client
    refused_naming_the_scope(
        await c.post("/api/v1/enterprises", json=enterprise(1, sub_district=THEIRS), headers=me)
    )
    r = await c.post("/api/v1/enterprises", json=enterprise(2, sub_district=OURS), headers=me)
    assert r.status_code == 201, r.text
    ours = r.json()
    theirs = (
        await c.post("/api/v1/enterprises", json=enterprise(3, sub_district=THEIRS), headers=ops)
    ).json()
    grant = {"type": "high_tech", "granted_on": "2024-01-02"}
    for ent, allowed in ((ours, True), (theirs, False)):
        base = f"/api/v1/enterprises/{ent['id']}"
        r = await c.patch(base, json={"size": "medium"}, headers={**me, "If-Match": '"1"'})
        assert r.status_code == 200 if allowed else refused_naming_the_scope(r) is None
        r = await c.post(f"{base}/designations", json=grant, headers=me if allowed else ops)
        assert r.status_code == 201, r.text
        did = r.json()["id"]
        renew = {"granted_on": "2024-03-01"}
        r = await c.post(f"{base}/designations/{did}/renew", json=renew, headers=me)
        if not allowed:
            refused_naming_the_scope(r)
            refused_naming_the_scope(await c.post(f"{base}/designations", json=grant, headers=me))
        revoke = {"on": "2024-05-01", "reason": "复核不合格"}
        r = await c.post(f"{base}/designations/{did}/revoke", json=revoke, headers=me)
        assert r.status_code == 200 if allowed else refused_naming_the_scope(r) is None
    # Moving one of ours into another sub-district would take it out of reach: refused too.
    r = await c.patch(
        f"/api/v1/enterprises/{ours['id']}",
        json={"sub_district": THEIRS},
        headers={**me, "If-Match": '"2"'},
    )
    refused_naming_the_scope(r)
    sheet = await csv_of(c, "/api/v1/enterprises/export", me, sub_district=THEIRS)
    files = {"file": ("ledger.csv", sheet, "text/csv")}
    refused_naming_the_scope(await c.post("/api/v1/enterprises/import", files=files, headers=me))
    history = (await c.get(f"/api/v1/enterprises/{ours['id']}/history", headers=me)).json()
    assert {(h["actor"], h["actor_name"]) for h in history["items"]} == {("li.min", "项目办 李敏")}
