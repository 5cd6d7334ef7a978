"""A 50,000-row import through the gateway runs as a job; the client's retry is that job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.natsserver import NatsServer
from services.common.spreadsheet import write_csv
from services.projects.ledger import COLUMNS
from tests.e2e.conftest import System, start_system

ROWS = 50_000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[System]:
    # The gateway's default timeout for ordinary calls stays short; imports get their own.
    running = start_system(
        tmp_path_factory.mktemp("retry"), nats_server, PLANTRACK_UPSTREAM_TIMEOUT_SECONDS="5"
    )
    yield running
    running.sup.stop()


def ledger(rows: int) -> bytes:
    # No project codes: nothing but the key stops a second copy of these rows
    return write_csv(COLUMNS, [{"name": f"项目{n}", "category": "school"} for n in range(rows)])


def test_a_client_retry_of_a_long_import_through_the_gateway_is_the_same_job(
    system: System, tmp_path: Path
) -> None:
    content = ledger(ROWS)
    headers = {**system.headers("project_office"), "Idempotency-Key": "ledger-2024-06-01"}
    files = {"file": ("台账.csv", content, "text/csv")}
    url = system.url + "/api/v1/projects/import"
    # The file is read (in a worker process), then the import runs on as a job: the answer
    # does not wait for 50,000 rows to be written.
    first = httpx.post(url, files=files, headers=headers, timeout=300)
    assert first.status_code == 202, first.text
    job_id = first.json()["id"]
    assert first.headers["location"] == f"/api/v1/jobs/{job_id}"
    assert first.json()["rows_total"] == ROWS

    # The clerk's browser retries while the import holds the database's write lock
    again = httpx.post(url, files=files, headers=headers, timeout=300)
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == job_id

    seen = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        r = httpx.get(system.url + first.headers["location"], headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        job = r.json()
        seen.append(job["rows_done"])
        if job["status"] != "running":
            break
        time.sleep(1)
    assert job["status"] == "done", job
    assert seen == sorted(seen), seen  # progress only goes forward
    assert job["result_status"] == 201, job
    assert job["result"]["imported"] == ROWS
    listing = httpx.get(
        system.url + "/api/v1/projects",
        params={"limit": 1},
        headers=system.headers("viewer"),
        timeout=30,
    )
    assert listing.json()["total"] == ROWS
