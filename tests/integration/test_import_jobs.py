"""Import jobs: a long import answers 202 and runs on in the service; its job ends with the
synchronous import's own answer, and a retry with the same Idempotency-Key is the same job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from services.common.spreadsheet import write_csv
from services.projects.ledger import COLUMNS
from services.projects.models import import_job
from tests.conftest import auth
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, job_outcome, outbox_count

client = kit.client
ROWS = 40


def ledger(rows: int = ROWS, **extra: Any) -> bytes:
    return write_csv(
        COLUMNS, [{"name": f"导入任务项目{n}", "category": "school", **extra} for n in range(rows)]
    )


async def post(client: Client, content: bytes, **params: Any) -> Any:
    return await client.post(
        "/api/v1/projects/import",
        params=params,
        files={"file": ("台账.csv", content, "text/csv")},
        headers=params.pop("headers", None) or {},
    )


def jobs_from(client: Client, rows: int) -> None:
    """Imports of more than `rows` rows run as jobs from now on."""
    app = client.app
    app.state.settings = app.state.settings.model_copy(update={"import_job_min_rows": rows})


async def total(client: Client) -> int:
    return (await client.get("/api/v1/projects")).json()["total"]


async def test_a_long_import_answers_202_and_its_job_ends_with_the_synchronous_answer(
    client: Client,
) -> None:
    content = ledger()
    synchronous = await post(client, content, dry_run="true")  # 40 rows: under 2,000
    assert synchronous.status_code == 200, synchronous.text

    jobs_from(client, 10)
    accepted = await post(client, content, dry_run="true")
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"] == f"/api/v1/jobs/{accepted.json()['id']}"
    started = accepted.json()
    assert started["id"].startswith("p-")
    assert (started["status"], started["rows_done"], started["rows_total"]) == ("running", 0, ROWS)
    job = await job_outcome(client, accepted)
    assert job["status"] == "done" and job["rows_done"] == job["rows_total"] == ROWS
    assert job["result_status"] == 200
    assert job["result"] == synchronous.json()
    assert await total(client) == 0  # a dry run, as a job too, writes nothing

    job = await job_outcome(client, await post(client, content))
    assert job["status"] == "done" and job["result_status"] == 201
    assert job["result"]["imported"] == job["result"]["created"] == ROWS
    assert sorted(job["result"]["ids"]) == job["result"]["ids"] and len(job["result"]["ids"]) == 40
    assert await total(client) == ROWS
    assert outbox_count(client, "ProjectRegistered") == ROWS


async def test_a_failing_file_as_a_job_ends_with_the_same_problem_and_writes_nothing(
    client: Client,
) -> None:
    content = ledger(category="nonsense")
    synchronous = await post(client, content)
    assert synchronous.status_code == 422
    jobs_from(client, 10)
    job = await job_outcome(client, await post(client, content))
    assert job["status"] == "done"
    assert job["result_status"] == 422
    assert job["result"] == synchronous.json()
    assert len(job["result"]["errors"]) == ROWS
    assert job["result"]["errors"][0]["loc"][-1] == "category"
    assert await total(client) == 0
    assert outbox_count(client, "ProjectRegistered") == 0


async def test_a_retry_with_the_same_key_answers_the_same_job_and_imports_once(
    client: Client,
) -> None:
    jobs_from(client, 10)
    content, key = ledger(), {"Idempotency-Key": "ledger-job-2024-06"}
    first = await post(client, content, headers=key)
    again = await post(client, content, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    job = await job_outcome(client, first)
    assert job["result_status"] == 201
    after = await post(client, content, headers=key)  # after it finished: still the same job
    assert after.json()["id"] == first.json()["id"]
    assert await total(client) == ROWS
    assert outbox_count(client, "ProjectRegistered") == ROWS


async def test_only_the_caller_who_started_a_job_can_read_it(
    client: Client, tokens: dict[str, str]
) -> None:
    jobs_from(client, 10)
    accepted = await post(client, ledger())
    await job_outcome(client, accepted)
    location = accepted.headers["location"]
    other = await client.get(location, headers=auth(tokens["admin"]))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    viewer = await client.get(location, headers=auth(tokens["viewer"]))
    assert viewer.status_code == 403
    assert (await client.get("/api/v1/jobs/p-0000")).status_code == 404


async def test_a_job_left_running_by_a_stopped_service_reads_as_failed(client: Client) -> None:
    jobs = client.app.state.jobs
    started, _never_run = jobs.start(
        subject="project_office-tester",
        kind="projects.import",
        rows_total=5000,
        language="en",
        run=lambda progress: (201, {}),
    )
    assert jobs.interrupt_left_running() == 1  # what the service does when it starts
    job = (await client.get(f"/api/v1/jobs/{started['id']}")).json()
    assert job["status"] == "failed"
    assert job["result_status"] == 503
    assert "重新上传" in job["result"]["detail"]  # Chinese unless the caller asked otherwise


async def test_a_job_and_a_retry_are_answered_while_another_write_holds_the_database(
    client: Client,
) -> None:
    jobs_from(client, 10)
    content, key = ledger(), {"Idempotency-Key": "ledger-job-locked"}
    first = await post(client, content, headers=key)
    await job_outcome(client, first)
    engine = client.app.state.runtime.engine
    # A long import's transaction holds SQLite's write lock (on PostgreSQL, its rows' locks)
    with engine.begin() as conn:
        conn.execute(
            insert(import_job).values(
                id="p-writer",
                subject="someone",
                kind="projects.import",
                status="running",
                rows_total=1,
                rows_done=0,
                created_at=datetime.now(UTC),
            )
        )
        job = await client.get(first.headers["location"])
        again = await post(client, content, headers=key)
    assert job.status_code == 200 and job.json()["status"] == "done"
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
