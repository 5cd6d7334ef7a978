"""Through the gateway, the real services and NATS: 1,000 demo projects exported and imported
back unchanged change nothing and publish nothing; ten edited rows give nine updates and name the
illegal one; the plan's targets move only by the stage moved forward."""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import nats
import pytest
from openpyxl import load_workbook

from gateway import demo, demo_data
from services.common.natsserver import NatsServer
from services.common.spreadsheet import write_xlsx
from services.projects.ledger import COLUMNS, STAGE_COLUMNS
from tests.e2e.conftest import System, start_system

TODAY = date(2025, 6, 30)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "重点项目台账"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[System]:
    running = start_system(
        tmp_path_factory.mktemp("ledger"), nats_server, PLANTRACK_TODAY=TODAY.isoformat()
    )
    yield running
    running.sup.stop()


def demo_ledger(n: int) -> bytes:
    """`n` projects as the demo plans them (categories, streets, codes, stage histories)."""
    rng, codes, rows = random.Random(7), set(), []
    kinds = [k for k in demo_data.KINDS for _ in range(k.count)]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        plan = demo.plan_project(rng, kind, i + 1, TODAY, codes)
        body = dict(plan["create"])
        body["name"] = f"{body['name']}（{i + 1}）"  # unique, so no row is a probable duplicate
        row: dict[str, Any] = {k: v for k, v in body.items()}
        for k in ("planned_start", "planned_completion", "created_on"):
            row[k] = date.fromisoformat(row[k])
        row["reserve_on"] = row["created_on"]
        for t in plan["transitions"]:
            row[STAGE_COLUMNS[t["to"]]] = date.fromisoformat(t["on"])
        rows.append(row)
    return write_xlsx(COLUMNS, rows, title=SHEET)


def upload(system: System, content: bytes, **params: str) -> httpx.Response:
    return httpx.post(
        f"{system.url}/api/v1/projects/import",
        params=params,
        files={"file": ("台账.xlsx", content, XLSX)},
        headers=system.headers("project_office"),
        timeout=300,
    )


def export(system: System) -> bytes:
    r = httpx.get(
        f"{system.url}/api/v1/projects/export",
        params={"format": "xlsx"},
        headers=system.headers("viewer"),
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return r.content


def targets(system: System, **params: str) -> dict[str, float]:
    r = httpx.get(
        f"{system.url}/api/v1/targets",
        params={"limit": 500, **params},
        headers=system.headers("viewer"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {t["id"]: t["current_value"] for t in r.json()["items"]}


def stream_messages(system: System) -> int:
    """How many domain events the deployment's stream holds."""

    async def count() -> int:
        nc = await nats.connect(system.nats_url)
        try:
            stream = system.sup.extra_env["PLANTRACK_STREAM"]
            return (await nc.jetstream().stream_info(stream)).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


def settled(system: System, timeout: float = 120.0) -> dict[str, float]:
    """The targets once two reads a second apart agree (the roll-up has caught up)."""
    deadline = time.monotonic() + timeout
    last = targets(system)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = targets(system)
        if now == last:
            return now
        last = now
    raise AssertionError("the targets did not settle")


def edit(content: bytes, changes: dict[tuple[int, str], Any]) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    ws = wb[SHEET]
    headers = {c.value: c.column for c in ws[1]}
    for (row, header), value in changes.items():
        ws.cell(row=row, column=headers[header], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_thousand_demo_projects_round_trip_and_only_a_forward_stage_moves_targets(
    system: System,
) -> None:
    r = upload(system, demo_ledger(1000))
    assert r.status_code == 201, r.text[:2000]
    assert r.json()["created"] == 1000
    before = settled(system)
    published = stream_messages(system)

    content = export(system)
    r = upload(system, content)
    assert r.status_code == 201, r.text[:2000]
    body = r.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 1000)
    time.sleep(2)  # anything published would be in the stream by now
    assert stream_messages(system) == published

    rows = list(load_workbook(io.BytesIO(content))[SHEET].iter_rows(values_only=True))
    header = rows[0]
    col = {h: i for i, h in enumerate(header)}
    schools_building = [
        n for n, r in enumerate(rows[1:], start=2) if r[col["项目类别"]] == "学校"
        and r[col["当前阶段"]] == "在建"
    ]  # fmt: skip
    building = [n for n, r in enumerate(rows[1:], start=2) if r[col["当前阶段"]] == "在建"]
    forward = schools_building[0]
    back = next(n for n in building if n != forward)
    others = [n for n in range(2, 1002) if n not in (forward, back)][:8]
    changes: dict[tuple[int, str], Any] = {}
    for n in others[:5]:
        changes[(n, "项目名称")] = f"{rows[n - 1][col['项目名称']]}（更名）"
    for n in others[5:]:
        changes[(n, "计划竣工日期")] = date(2026, 12, 31)
    changes[(forward, "当前阶段")] = "建成"
    changes[(forward, "建成日期")] = date(2025, 6, 1)
    changes[(back, "当前阶段")] = "储备"
    edited = edit(content, changes)

    r = upload(system, edited, dry_run="true")
    assert r.status_code == 200, r.text[:2000]
    plan = r.json()
    assert (plan["updated"], plan["unchanged"]) == (9, 990)
    [error] = plan["errors"]
    assert error["loc"] == ["rows", back, "stage"]

    r = upload(system, edited)
    assert r.status_code == 422
    assert r.json()["rejected_rows"] == [back]
    assert "项目只能向前推进" in r.json()["errors"][0]["msg"]  # the gateway's default: Chinese

    fixed = edit(edited, {(back, "当前阶段"): "在建"})
    r = upload(system, fixed)
    assert r.status_code == 201, r.text[:2000]
    assert (r.json()["updated"], r.json()["unchanged"]) == (9, 991)

    counting_schools = set(targets(system, category="school"))
    deadline = time.monotonic() + 120
    while targets(system)["schools"] != before["schools"] + 1:
        assert time.monotonic() < deadline, "the built school never counted"
        time.sleep(0.5)
    after = settled(system)
    moved = {t for t in after if after[t] != before[t]}
    assert "schools" in moved and moved <= counting_schools
