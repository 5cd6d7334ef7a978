"""Every POST honours Idempotency-Key: a retry answers the first result and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.spreadsheet import write_csv
from services.projects.ledger import COLUMNS
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, job_outcome, outbox_count, project_body

client = kit.client


async def total(client: Client) -> int:
    return (await client.get("/api/v1/projects")).json()["total"]


async def test_a_retried_create_answers_the_first_result_and_registers_one_project(
    client: Client,
) -> None:
    headers = {"Idempotency-Key": "create-7f3a"}
    first = await client.post("/api/v1/projects", json=project_body(), headers=headers)
    again = await client.post("/api/v1/projects", json=project_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await total(client) == 1
    assert outbox_count(client, "ProjectRegistered") == 1


async def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    client: Client,
) -> None:
    headers = {"Idempotency-Key": "create-7f3b"}
    assert (await client.post("/api/v1/projects", json=project_body(), headers=headers)).is_success
    r = await client.post("/api/v1/projects", json=project_body(name="另一个"), headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await total(client) == 1


async def test_keys_are_per_caller(client: Client, tokens: dict[str, str]) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    await client.post("/api/v1/projects", json=project_body(), headers=headers)
    other = {**headers, "Authorization": f"Bearer {tokens['admin']}"}
    r = await client.post("/api/v1/projects", json=project_body(), headers=other)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await total(client) == 2


async def test_a_refused_request_is_answered_the_same_again(client: Client) -> None:
    headers = {"Idempotency-Key": "bad-body"}
    body = project_body(category="nonsense")
    first = await client.post("/api/v1/projects", json=body, headers=headers)
    again = await client.post("/api/v1/projects", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


async def test_an_import_retried_while_and_after_it_runs_is_imported_once(client: Client) -> None:
    rows: list[dict[str, Any]] = [
        {"name": f"项目{n}", "category": "school", "code": f"2023-370602-47-01-{n:06d}"}
        for n in range(3000)
    ]
    content = write_csv(COLUMNS, rows)

    async def post() -> Any:
        # httpx writes a new multipart boundary each time, as a real retry would
        return await client.post(
            "/api/v1/projects/import",
            files={"file": ("台账.csv", content, "text/csv")},
            headers={"Idempotency-Key": "import-2024-06"},
        )

    first, during = await asyncio.gather(post(), post())
    # A file this long runs on as a job: the retry answers the same job, or 409 while the
    # first request is still reading the file
    assert sorted([first.status_code, during.status_code]) in ([202, 202], [202, 409])
    accepted = first if first.status_code == 202 else during
    job = await job_outcome(client, accepted)
    after = await post()
    assert after.status_code == 202 and after.headers["idempotent-replayed"] == "true"
    assert after.json()["id"] == accepted.json()["id"]
    assert job["result_status"] == 201 and job["result"]["imported"] == 3000
    assert await total(client) == 3000
    assert outbox_count(client, "ProjectRegistered") == 3000
