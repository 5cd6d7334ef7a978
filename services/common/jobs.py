"""Import jobs: a long import answers 202 at once and runs on in the service.

A job is a row in the service's own database (table `import_job`): who started it, how many
rows it has, and, once finished, the answer the synchronous import would have given (its status
and body). The import itself runs in a thread of the service, through the same code and the
same single all-or-nothing transaction as a synchronous import; while it runs, its progress
(`rows_done`) is kept in memory, since the import's own transaction holds SQLite's write lock.
A service that restarts marks the jobs it left running as failed (interrupted): nothing of
them was committed, and the caller may upload the file again.

Job ids start with the owning service's letter (`p-` projects, `e-` enterprises), so the
gateway sends `GET /api/v1/jobs/{id}` to the service that has it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Literal

from anyio import from_thread
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlmodel import Session
from starlette.background import BackgroundTask

from services.common import db
from services.common.envelope import utcnow
from services.common.errors import DomainError, NotFound, problem_body, request_language
from services.common.i18n import Text

TABLE = "import_job"
RUNNING, DONE, FAILED = "running", "done", "failed"
log = logging.getLogger("plantrack")

INTERRUPTED = Text(
    "服务在导入进行中重启，本次导入未写入任何内容。请重新上传该文件。",
    "The service restarted while the import ran; nothing of it was written. Upload the file again.",
)


JOB_DESCRIPTION = (
    "A long import (more rows than `PLANTRACK_IMPORT_JOB_MIN_ROWS`, 2,000 by default) answers "
    "202 with `Location: /api/v1/jobs/{id}` and runs on in the service, in one all-or-nothing "
    "transaction like a synchronous import. While it runs, `status` is `running` and "
    "`rows_done` of `rows_total` says how far it is; then `status` is `done` with the import's "
    "own answer as `result` and its status code as `result_status` (201, 200 for a dry run, or "
    "422 with every bad row), or `failed` (`result_status` 500 or more; nothing was written, "
    "e.g. the service restarted meanwhile). Only the caller who started the job can read it."
)


class ImportJob(BaseModel):
    """An import job as its caller sees it."""

    id: str = PField(description="`p-…` (projects) or `e-…` (enterprises)")
    status: Literal["running", "done", "failed"]
    rows_done: int
    rows_total: int
    result_status: int | None = PField(
        default=None, description="When finished: the synchronous import's status code"
    )
    result: dict[str, Any] | None = PField(
        default=None, description="When finished: the synchronous import's body"
    )


def job_table(metadata: MetaData) -> Table:
    """The import jobs a service has run, declared on the service's own metadata."""
    return Table(
        TABLE,
        metadata,
        Column("id", String(40), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("status", String(10), nullable=False),
        Column("rows_total", Integer, nullable=False),
        Column("rows_done", Integer, nullable=False),
        Column("result_status", Integer, nullable=True),
        Column("result", JSON, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True), nullable=True),
    )


class Progress:
    """Rows done so far of one running job; the import reports, the job's GET reads."""

    def __init__(self) -> None:
        self.rows_done = 0

    def __call__(self, rows_done: int) -> None:
        self.rows_done = rows_done


class Jobs:
    """A service's import jobs: started, run in a thread, read back by id."""

    def __init__(self, engine: Engine, table: Table, prefix: str) -> None:
        self.engine = engine
        self.table = table
        self.prefix = prefix
        self._progress: dict[str, Progress] = {}

    def start(
        self,
        *,
        subject: str,
        kind: str,
        rows_total: int,
        language: str,
        run: Callable[[Progress], tuple[int, dict[str, Any]]],
    ) -> tuple[dict[str, Any], Callable[[], None]]:
        """Record the job; answers its public body and the call that runs `run` (the import,
        answering its status and body) in a thread — made once the 202 has been answered."""
        job_id = f"{self.prefix}-{uuid.uuid4().hex}"
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.table).values(
                    id=job_id,
                    subject=subject,
                    kind=kind,
                    status=RUNNING,
                    rows_total=rows_total,
                    rows_done=0,
                    created_at=utcnow(),
                )
            )
        progress = self._progress[job_id] = Progress()

        def launch() -> None:
            threading.Thread(
                target=self._run,
                args=(job_id, run, progress, language),
                name=f"import-job-{job_id}",
                daemon=True,
            ).start()

        body = {"id": job_id, "status": RUNNING, "rows_done": 0, "rows_total": rows_total}
        return body, launch

    def _run(
        self,
        job_id: str,
        run: Callable[[Progress], tuple[int, dict[str, Any]]],
        progress: Progress,
        language: str,
    ) -> None:
        try:
            status, body = run(progress)
        except DomainError as exc:
            status, body = problem_body(exc, language)
        except Exception as exc:  # noqa: BLE001 - the job says it failed; nothing was committed
            log.exception("import job %s failed", job_id, exc_info=exc)
            status, body = problem_body(exc, language)
        state = DONE if status < 500 else FAILED
        rows_done = progress.rows_done
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(self.table)
                    .where(self.table.c.id == job_id)
                    .values(
                        status=state,
                        rows_done=rows_done,
                        result_status=status,
                        result=body,
                        finished_at=utcnow(),
                    )
                )
        except Exception as exc:  # noqa: BLE001 - the row stays running; a restart fails it
            log.exception("import job %s: its result could not be stored", job_id, exc_info=exc)
        finally:
            self._progress.pop(job_id, None)

    def read(self, job_id: str, *, subject: str) -> dict[str, Any]:
        """The job's public body; another caller's job, or none, is not found."""
        # A read that does not wait for SQLite's write lock, which the import itself holds
        with db.reader(self.engine).connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == job_id)).first()
        if row is None or row.subject != subject:
            raise NotFound(Text(f"没有导入任务 {job_id}", f"no import job {job_id}"), loc=["id"])
        out: dict[str, Any] = {
            "id": row.id,
            "status": row.status,
            "rows_done": row.rows_done,
            "rows_total": row.rows_total,
        }
        if row.status == RUNNING:
            progress = self._progress.get(job_id)
            out["rows_done"] = progress.rows_done if progress else row.rows_done
            return out
        out["result_status"] = row.result_status
        out["result"] = row.result
        return out

    def interrupt_left_running(self, language: str = "zh") -> int:
        """At start: jobs a previous process left running failed with it (nothing committed)."""
        status, body = problem_body(RuntimeError("interrupted"), language, detail=INTERRUPTED)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(self.table)
                .where(self.table.c.status == RUNNING)
                .values(status=FAILED, result_status=status, result=body, finished_at=utcnow())
            )
        return done.rowcount or 0


def start_job(
    request: Request,
    subject: str,
    kind: str,
    rows: int,
    run: Callable[[Callable[[int], None], Session], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    """202: the import goes on in the service as a job, in one unit of work of its own.

    `run(progress, session)` is the synchronous import, answering its status and body; the
    job starts once the 202 has been answered (and stored for Idempotency-Key)."""
    from services.common.unit_of_work import UnitOfWork

    runtime = request.app.state.runtime
    loop = from_thread.run_sync(asyncio.get_running_loop)

    def in_unit(progress: Progress) -> tuple[int, dict[str, Any]]:
        wake = lambda: loop.call_soon_threadsafe(runtime.wake_relay)  # noqa: E731
        with UnitOfWork(runtime.engine, on_commit=wake) as session:
            status, body = run(progress, session)
        progress(rows)
        return status, body

    body, launch = request.app.state.jobs.start(
        subject=subject,
        kind=kind,
        rows_total=rows,
        language=request_language(request),
        run=in_unit,
    )
    return JSONResponse(
        body,
        status_code=202,
        headers={"Location": f"/api/v1/jobs/{body['id']}"},
        background=BackgroundTask(launch),
    )
