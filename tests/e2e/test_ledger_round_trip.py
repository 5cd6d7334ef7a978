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

from services import demo, demo_data
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


def enterprise_ledger(n: int) -> bytes:
    """`n` enterprises, every other one a high-tech enterprise since 2023."""
    from services.enterprises.ledger import COLUMNS as ENTERPRISE_COLUMNS
    from tests.integration.enterprises_kit import make_uscc

    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "uscc": make_uscc(1000 + i),
            "name": f"烟台往返测试{i}科技有限公司",
            "industry_section": "I",
            "sub_district": demo_data.SUB_DISTRICTS[i % len(demo_data.SUB_DISTRICTS)],
            "landed_on": date(2023, 1, 1),
        }
        if i % 2:
            row.update(designation_type="high_tech", designation_level="national",
                       granted_on=date(2023, 3, 1), certificate_no=f"GR2023{i:05d}")  # fmt: skip
        rows.append(row)
    return write_xlsx(ENTERPRISE_COLUMNS, rows, title="企业台账")


def test_the_enterprise_ledger_round_trips_the_same_way(system: System) -> None:
    def send(content: bytes, **params: str) -> httpx.Response:
        return httpx.post(
            f"{system.url}/api/v1/enterprises/import",
            params=params,
            files={"file": ("企业台账.xlsx", content, XLSX)},
            headers=system.headers("investment_promotion"),
            timeout=300,
        )

    r = send(enterprise_ledger(200))
    assert r.status_code == 200, r.text[:2000]
    assert r.json()["enterprises_created"] == 200
    before = settled(system)
    published = stream_messages(system)
    r = httpx.get(
        f"{system.url}/api/v1/enterprises/export",
        params={"format": "xlsx"},
        headers=system.headers("viewer"),
        timeout=120,
    )
    assert r.status_code == 200
    content = r.content
    r = send(content)
    assert r.status_code == 200, r.text[:2000]
    body = r.json()
    assert (body["enterprises_created"], body["enterprises_updated"]) == (0, 0)
    assert (body["enterprises_unchanged"], body["designations_unchanged"]) == (200, 100)
    time.sleep(2)
    assert stream_messages(system) == published

    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    plain = [n for n, r in enumerate(rows[1:], start=2) if r[col["认定类型"]] is None]
    certified = [n for n, r in enumerate(rows[1:], start=2) if r[col["认定类型"]] is not None]
    changes: dict[tuple[int, str], Any] = {
        (n, "企业名称"): f"{rows[n - 1][col['企业名称']]}（更名）" for n in plain[:8]
    }
    grant = plain[8]  # a new certificate for an enterprise that had none: the move forward
    changes[(grant, "认定类型")] = "高新技术企业"
    changes[(grant, "认定级别")] = "国家级"
    changes[(grant, "认定日期")] = date(2025, 5, 6)
    illegal = certified[0]  # an import does not alter a recorded designation
    changes[(illegal, "有效期至")] = date(2030, 1, 1)
    wb = load_workbook(io.BytesIO(content))
    sheet = wb.worksheets[0]
    headers = {c.value: c.column for c in sheet[1]}
    for (row, header), value in changes.items():
        sheet.cell(row=row, column=headers[header], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    edited = buf.getvalue()

    plan = send(edited, dry_run="true").json()
    assert (plan["enterprises_updated"], plan["designations_granted"]) == (8, 1)
    [error] = plan["errors"]
    assert error["loc"] == ["rows", illegal, "expires_on"]
    r = send(edited)
    assert r.status_code == 422 and r.json()["rejected_rows"] == [illegal]

    sheet.cell(row=illegal, column=headers["有效期至"], value=rows[illegal - 1][col["有效期至"]])
    buf = io.BytesIO()
    wb.save(buf)
    r = send(buf.getvalue())
    assert r.status_code == 200, r.text[:2000]
    assert (r.json()["enterprises_updated"], r.json()["designations_granted"]) == (8, 1)

    deadline = time.monotonic() + 120
    while targets(system)["high_tech_enterprises"] != before["high_tech_enterprises"] + 1:
        assert time.monotonic() < deadline, "the new certificate never counted"
        time.sleep(0.5)
    after = settled(system)
    moved = {t for t in after if after[t] != before[t]}
    assert "high_tech_enterprises" in moved
    assert moved <= set(targets(system, source="enterprises"))
