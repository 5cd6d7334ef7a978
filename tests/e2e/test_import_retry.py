"""A 50,000-row import through the gateway: the client gives up and retries; it counts once."""

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


def test_a_client_retry_of_a_long_import_through_the_gateway_does_not_double_it(
    system: System, tmp_path: Path
) -> None:
    content = ledger(ROWS)
    headers = {**system.headers("project_office"), "Idempotency-Key": "ledger-2024-06-01"}
    files = {"file": ("台账.csv", content, "text/csv")}
    url = system.url + "/api/v1/projects/import"
    with pytest.raises(httpx.ReadTimeout):  # the clerk's browser gives up after 2 s
        httpx.post(url, files=files, headers=headers, timeout=2)
    answers = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        r = httpx.post(url, files=files, headers=headers, timeout=620)
        answers.append(r.status_code)
        if r.status_code != 409:
            break
        time.sleep(float(r.headers.get("retry-after", "2")))
    assert r.status_code == 201, (answers, r.text)
    assert r.headers["idempotent-replayed"] == "true"
    assert r.json()["imported"] == ROWS
    listing = httpx.get(
        system.url + "/api/v1/projects",
        params={"limit": 1},
        headers=system.headers("viewer"),
        timeout=30,
    )
    assert listing.json()["total"] == ROWS
