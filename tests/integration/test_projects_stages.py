"""The stage machine over HTTP, its events through the outbox to NATS, and the year pipeline."""

from __future__ import annotations

import asyncio
from datetime import date

import nats
import orjson
from nats.js.api import DeliverPolicy
from sqlalchemy import func, select, update

from services.common.envelope import Event
from services.common.runtime import get_today
from services.projects.models import outbox
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import (
    Client,
    create,
    move,
    outbox_events,
    problem_locs,
)

SNAPSHOT_KEYS = {
    "id", "version", "name", "category", "stage", "level", "sub_district", "lead_department",
    "plan_clause", "quantity", "quantity_unit", "total_investment_wan", "planned_start",
    "planned_completion", "code", "created_on", "stages",
}  # fmt: skip


client = kit.client  # the service on SQLite and PostgreSQL, as the project office


async def test_a_forward_transition_emits_stage_changed_with_the_full_history(
    client: Client,
) -> None:
    p = await create(client, created_on="2024-01-10")
    r = await move(client, p["id"], "starting", "2024-03-05", "开工仪式")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "starting" and r.json()["version"] == 2
    assert r.headers["etag"] == 'W/"2"'
    [event] = outbox_events(client, "ProjectStageChanged")
    assert event.on.isoformat() == "2024-03-05"
    assert event.payload["from"] == "reserve" and event.payload["to"] == "starting"
    assert event.payload["ordinal"] == 1 and event.payload["note"] == "开工仪式"
    snap = event.payload["project"]
    assert set(snap) == SNAPSHOT_KEYS and snap["version"] == 2
    assert snap["stages"] == [
        {"stage": "reserve", "on": "2024-01-10", "ordinal": 0},
        {"stage": "starting", "on": "2024-03-05", "ordinal": 1},
    ]


async def test_skipping_a_stage_is_allowed_and_recorded(client: Client) -> None:
    p = await create(client, created_on="2024-01-10")
    r = await move(client, p["id"], "building", "2024-04-01")
    assert r.status_code == 200
    assert [s["stage"] for s in r.json()["stages"]] == ["reserve", "building"]
    history = (await client.get(f"/api/v1/projects/{p['id']}/history")).json()["items"]
    assert history[-1]["action"] == "transition"
    assert history[-1]["changes"]["stage"] == ["reserve", "building"]


async def test_illegal_transitions_are_409_with_the_reason_and_emit_nothing(
    client: Client,
) -> None:
    p = await create(client, created_on="2024-01-10")
    pid = p["id"]
    assert (await move(client, pid, "building", "2024-04-01")).status_code == 200
    emitted = len(outbox_events(client))
    cases = [
        ("starting", "2024-05-01", "moves forward only"),
        ("reserve", "2024-05-01", "moves forward only"),
        ("built", "2024-03-31", "before the project's previous transition on 2024-04-01"),
        ("built", "2024-06-02", "in the future"),
        ("building", "2024-05-01", "already building"),
    ]
    for to, on, reason in cases:
        r = await move(client, pid, to, on)
        assert r.status_code == 409, (to, on, r.text)
        assert reason in r.json()["detail"], r.json()["detail"]
    assert (await move(client, pid, "built", "2024-05-20")).status_code == 200
    emitted += 1
    for to in ("cancelled", "building"):
        r = await move(client, pid, to, "2024-05-30")
        assert r.status_code == 409
        assert "final stage" in r.json()["detail"]
    assert len(outbox_events(client)) == emitted
    after = (await client.get(f"/api/v1/projects/{pid}")).json()
    assert after["stage"] == "built" and after["built_on"] == "2024-05-20"
    assert after["version"] == 3


async def test_an_unknown_target_stage_is_422(client: Client) -> None:
    p = await create(client)
    r = await move(client, p["id"], "dreaming", "2024-06-01")
    assert r.status_code == 422 and problem_locs(r) == [["to"]]


async def test_cancel_from_any_stage_but_built_emits_stage_changed(client: Client) -> None:
    p = await create(client, created_on="2024-01-10", stage="starting")
    r = await move(client, p["id"], "cancelled", "2024-02-01", "资金未落实")
    assert r.status_code == 200 and r.json()["stage"] == "cancelled"
    [event] = outbox_events(client, "ProjectStageChanged")
    assert event.payload["to"] == "cancelled" and event.payload["from"] == "starting"
    assert (await move(client, p["id"], "building", "2024-03-01")).status_code == 409


async def test_a_transition_with_a_stale_if_match_is_412(client: Client) -> None:
    p = await create(client, created_on="2024-01-10")
    r = await client.post(
        f"/api/v1/projects/{p['id']}/transitions",
        json={"to": "starting", "on": "2024-02-01"},
        headers={"If-Match": 'W/"7"'},
    )
    assert r.status_code == 412
    assert outbox_events(client, "ProjectStageChanged") == []


async def test_events_reach_nats_in_order_with_the_snapshot(client: Client) -> None:
    p = await create(client, created_on="2024-01-10")
    await move(client, p["id"], "starting", "2024-02-01")
    await move(client, p["id"], "cancelled", "2024-02-02")
    settings = client.settings
    nc = await nats.connect(settings.nats_servers)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"{settings.domain_subjects}.projects.>", stream=settings.stream
        )
        got: list[Event] = []
        for _ in range(50):
            try:
                msgs = await sub.fetch(10, timeout=0.5)
            except TimeoutError:
                msgs = []
            got += [Event.from_bytes(m.data) for m in msgs]
            if len(got) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await nc.close()
    assert [e.type for e in got] == [
        "ProjectRegistered",
        "ProjectStageChanged",
        "ProjectStageChanged",
    ]
    last = got[-1]
    assert last.producer == "projects" and last.subject == str(p["id"])
    assert [s["stage"] for s in last.payload["project"]["stages"]] == [
        "reserve",
        "starting",
        "cancelled",
    ]


async def test_the_pipeline_compares_planned_and_actual_batches(client: Client) -> None:
    # planned to start and finish in 2024; started on time, still building
    a = await create(
        client, name="甲", created_on="2023-11-01", planned_start="2024-02-01",
        planned_completion="2024-11-30",
    )  # fmt: skip
    await move(client, a["id"], "starting", "2024-02-03")
    await move(client, a["id"], "building", "2024-03-01")
    # carried over from 2023 and built in 2024
    b = await create(
        client, name="乙", created_on="2023-01-05", stage="building",
        planned_start="2023-01-01", planned_completion="2024-04-30",
    )  # fmt: skip
    await move(client, b["id"], "built", "2024-05-10")
    # planned to start in 2024 but still in reserve
    c = await create(
        client, name="丙", created_on="2023-12-01", planned_start="2024-04-01",
        planned_completion="2025-06-30",
    )  # fmt: skip
    # reserve for 2025
    d = await create(
        client, name="丁", created_on="2024-03-01", planned_start="2025-03-01",
        planned_completion="2026-06-30",
    )  # fmt: skip
    # cancelled in 2023: in no 2024 batch
    e = await create(client, name="戊", created_on="2023-01-01", planned_start="2024-01-01")
    await move(client, e["id"], "cancelled", "2023-06-01")

    r = await client.get("/api/v1/pipeline", params={"year": 2024})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["year"] == 2024 and view["as_of"] == "2024-06-01"
    batches = {x["batch"]: x for x in view["batches"]}
    assert [x["label"] for x in view["batches"]] == ["建成一批", "在建一批", "开工一批", "储备一批"]

    def ids(batch: str, flag: str) -> set[int]:
        return {p["id"] for p in batches[batch]["projects"] if p[flag]}

    assert ids("built", "planned") == {a["id"], b["id"]}
    assert ids("built", "actual") == {b["id"]}
    assert ids("starting", "planned") == {a["id"], c["id"]}
    assert ids("starting", "actual") == {a["id"]}
    assert ids("building", "planned") == {a["id"], b["id"], c["id"]}
    assert ids("building", "actual") == {a["id"], b["id"]}
    assert ids("reserve", "planned") == {d["id"]}
    assert ids("reserve", "actual") == {c["id"], d["id"]}
    assert batches["starting"]["planned"] == 2 and batches["starting"]["actual"] == 1
    assert batches["built"]["planned_and_actual"] == 1
    started = next(p for p in batches["starting"]["projects"] if p["id"] == a["id"])
    assert started["planned_on"] == "2024-02-01" and started["actual_on"] == "2024-02-03"
    assert e["id"] not in {p["id"] for x in view["batches"] for p in x["projects"]}

    r = await client.get("/api/v1/pipeline", params={"year": 2024, "projects": "false"})
    counts = {x["batch"]: (x["planned"], x["actual"], x["projects"]) for x in r.json()["batches"]}
    assert counts == {x["batch"]: (x["planned"], x["actual"], []) for x in view["batches"]}


async def test_the_pipeline_refuses_a_year_out_of_range(client: Client) -> None:
    r = await client.get("/api/v1/pipeline", params={"year": 99})
    assert r.status_code == 422 and problem_locs(r) == [["query", "year"]]


async def test_each_transition_is_announced_once_on_the_live_stream(client: Client) -> None:
    """The relay announces a stage change to the dashboards once JetStream has it; a row
    relayed again (a crash between publishing and marking it) is announced once all the same."""
    settings = client.settings
    p = await create(
        client,
        name="芝罘区某卫生服务中心",
        category="public_health_center",
        created_on="2024-01-10",
    )
    assert (await move(client, p["id"], "starting", "2024-02-01")).status_code == 200
    assert (await move(client, p["id"], "built", "2024-05-02")).status_code == 200
    relay = client.app.state.runtime.relay
    while outbox_unpublished(client):
        await asyncio.sleep(0.01)
    # As if the process had died after the acks and before marking the rows: relayed again.
    with client.app.state.runtime.engine.begin() as conn:
        conn.execute(update(outbox).values(published_at=None))
    relay.wake()
    while outbox_unpublished(client):
        await asyncio.sleep(0.01)

    nc = await nats.connect(settings.nats_servers)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            f"{settings.live_subjects}.project.{p['id']}",
            stream=settings.live_stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        notices = []
        while True:
            try:
                notices.append(orjson.loads((await sub.next_msg(timeout=1.0)).data))
            except TimeoutError:
                break
    finally:
        await nc.close()
    [registered, *changes] = outbox_events(client)
    assert registered.type == "ProjectRegistered"  # a registration is no stage change
    assert [(n["type"], n["producer"]) for n in notices] == [
        ("ProjectStageAnnounced", "projects")
    ] * 2
    assert [n["payload"] for n in notices] == [
        {
            "id": p["id"],
            "name": "芝罘区某卫生服务中心",
            "category": "public_health_center",
            "from": frm,
            "to": to,
            "on": on,
        }
        for frm, to, on in (
            ("reserve", "starting", "2024-02-01"),
            ("starting", "built", "2024-05-02"),
        )
    ]
    assert [n["on"] for n in notices] == [c.on.isoformat() for c in changes]


def outbox_unpublished(client: Client) -> int:
    with client.app.state.runtime.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()


async def test_after_the_plan_the_pipeline_and_the_batch_filter_default_to_its_last_year(
    client: Client,
) -> None:
    """In 2026 (after the 2023–2025 plan) a year left out is 2025, whose batches hold projects,
    not 2026, whose batches would all be empty."""
    p = await create(client, name="甲", created_on="2024-01-01", planned_start="2025-03-01")
    client.app.dependency_overrides[get_today] = lambda: date(2026, 3, 1)
    r = await client.get("/api/v1/pipeline")
    assert r.status_code == 200, r.text
    assert r.json()["year"] == 2025
    starting = next(b for b in r.json()["batches"] if b["batch"] == "starting")
    assert starting["planned"] == 1 and [x["id"] for x in starting["projects"]] == [p["id"]]
    listed = await client.get("/api/v1/projects", params={"batch": "starting"})
    assert [x["id"] for x in listed.json()["items"]] == [p["id"]]
