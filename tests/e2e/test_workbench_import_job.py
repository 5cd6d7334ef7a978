"""The workbench's import page follows a long import's job: a progress bar, then its answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.auth import Role
from services.common.natsserver import NatsServer
from services.common.spreadsheet import write_csv
from services.projects.ledger import COLUMNS
from tests.e2e.conftest import System, start_system
from tests.e2e.test_workbench import browser, open_as, people  # noqa: F401 - fixtures

ROWS = 3_000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[System]:
    # Imports of more than 100 rows run as jobs here, so a small file shows the job's path
    running = start_system(
        tmp_path_factory.mktemp("jobs"), nats_server, PLANTRACK_IMPORT_JOB_MIN_ROWS="100"
    )
    yield running
    running.sup.stop()


def test_a_long_import_shows_its_progress_then_what_it_imported(
    browser,  # noqa: F811
    system: System,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    ledger = tmp_path / "台账.csv"
    rows = [{"name": f"芝罘区任务导入项目{n}", "category": "school"} for n in range(ROWS)]
    ledger.write_bytes(write_csv(COLUMNS, rows))

    page = open_as(browser, system, Role.project_office)
    page.get_by_role("link", name="导入导出").click()
    page.get_by_label("选择文件").set_input_files(str(ledger))
    page.get_by_role("button", name="预检").click()  # a dry run, as a job
    expect(page.get_by_role("button", name="确认导入")).to_be_visible(timeout=120_000)
    page.get_by_role("button", name="确认导入").click()
    bar = page.locator("progress.progress")
    expect(bar).to_be_visible()
    expect(page.locator("#import-result")).to_contain_text(f"{ROWS}", timeout=300_000)
    expect(bar).to_be_hidden()
    listing = httpx.get(
        system.url + "/api/v1/projects",
        params={"q": "任务导入项目", "limit": 1},
        headers=system.headers(Role.viewer),
        timeout=30,
    )
    assert listing.json()["total"] == ROWS
