"""The dashboard end to end: demo data through the API, live updates to an open page, and an
overview that keeps answering while a service is down."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest

from services.common.auth import Role
from services.common.contracts.calendar import business_date
from services.demo import load_demo
from tests.e2e.conftest import ARTIFACTS, System, require_events_rollups

OVERVIEW = "/api/v1/dashboard/overview"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def new_project(system: System, name: str) -> int:
    r = httpx.post(
        system.url + "/api/v1/projects",
        json={"name": name, "category": "school", "plan_clause": "50", "sub_district": "向阳街道"},
        headers=system.headers(Role.project_office),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def transition(system: System, project_id: int, to: str) -> httpx.Response:
    return httpx.post(
        f"{system.url}/api/v1/projects/{project_id}/transitions",
        json={"to": to, "on": business_date().isoformat(), "note": "e2e"},
        headers=system.headers(Role.project_office),
        timeout=30,
    )


def test_the_demo_data_set_loads_through_the_api_once(system: System):
    summary = load_demo(system.url, system.token(Role.admin, "demo-loader"))
    assert "refused" not in summary, summary
    r = httpx.get(system.url + "/api/v1/projects?limit=1", headers=system.headers("viewer"))
    assert r.json()["total"] > 150
    r = httpx.get(system.url + "/api/v1/enterprises?limit=1", headers=system.headers("viewer"))
    assert r.json()["total"] >= 100
    again = load_demo(system.url, system.token(Role.admin))
    assert again.startswith("the ledger already holds")


@pytest.mark.browser
def test_the_page_shows_the_targets_and_a_stage_change_appears_within_two_seconds(
    system: System,
):
    require_events_rollups(system)
    from playwright.sync_api import expect, sync_playwright

    project_id = new_project(system, "芝罘区浏览器测试小学")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        page.goto(f"{system.url}/#token={system.token(Role.viewer, 'browser')}")
        expect(page.locator("#targets .target").first).to_be_visible(timeout=15_000)
        expect(page.locator("#status-live")).to_have_attribute("data-state", "live")
        assert page.locator("#targets .target").count() >= 50
        # The matrix's columns follow the overview's stage order, the main line first.
        columns = page.locator("#pipeline-matrix thead th[data-stage]")
        expect(columns.first).to_be_visible()
        shown = [columns.nth(i).get_attribute("data-stage") for i in range(columns.count())]
        assert shown[:4] == ["reserve", "starting", "building", "built"], shown
        assert transition(system, project_id, "starting").status_code in (200, 201)
        toast = page.locator(f'.toast[data-project-id="{project_id}"][data-stage="starting"]')
        expect(toast).to_be_visible(timeout=2_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        browser.close()


async def _first_project_event(response: httpx.Response, project_id: int) -> dict[str, Any]:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "" and event.get("event") == "project":
            data = orjson.loads(event["data"])
            if data.get("id") == project_id:
                return data
        if line == "":
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value
    raise AssertionError("stream ended")


async def test_a_stage_change_reaches_the_event_stream_promptly(system: System):
    require_events_rollups(system)
    project_id = new_project(system, "芝罘区事件流测试道路")
    headers = system.headers(Role.viewer)
    async with (
        httpx.AsyncClient(base_url=system.url, timeout=30) as client,
        client.stream("GET", "/api/v1/stream", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        waiting = asyncio.create_task(_first_project_event(stream, project_id))
        sent = time.perf_counter()
        r = await client.post(
            f"/api/v1/projects/{project_id}/transitions",
            json={"to": "building", "on": business_date().isoformat()},
            headers=system.headers(Role.project_office),
        )
        assert r.status_code in (200, 201), r.text
        data = await asyncio.wait_for(waiting, 2.0)
        elapsed = time.perf_counter() - sent
    assert data["to"] == "building"
    assert elapsed < 2.0


def test_with_the_projects_service_killed_the_overview_answers_with_its_last_values(
    system: System,
):
    require_events_rollups(system)
    viewer = system.headers(Role.viewer)
    before = httpx.get(system.url + OVERVIEW, headers=viewer, timeout=10).json()
    assert before["degraded"] == []
    system.kill("projects")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = httpx.get(system.url + OVERVIEW, headers=viewer, timeout=10)
            assert r.status_code == 200
            if r.json()["degraded"]:
                break
            time.sleep(0.2)
        body = r.json()
        assert body["degraded"] == ["projects"]
        assert body["stale"]["projects"]["age_seconds"] >= 0
        assert body["pipeline"]["batches"] == before["pipeline"]["batches"]
        assert body["alerts"]["overdue_milestones"] == before["alerts"]["overdue_milestones"]
        assert body["targets"]["items"]
        r = httpx.get(system.url + "/api/v1/projects", headers=viewer, timeout=10)
        assert r.status_code == 503 and r.json()["service"] == "projects"
    finally:
        system.restart("projects")
