"""The unit of work: one write's rows, history and outbox events, committed together once.

Every write goes through one: an HTTP handler opens it with its `Write` dependency, calls a
service function that changes rows, adds history rows and outbox events in the session, and
the unit commits once when the block ends (rolls back if it raises), then wakes the outbox
relay so the events go out now rather than at its next poll. Service functions and routers
never commit. The expiry scheduler opens `UnitOfWork` directly, one per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Annotated

from anyio import from_thread
from fastapi import Depends, Request, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.common.runtime import (
    Runtime,
    SessionDep,
    require_if_match,
    set_etag,
)


class UnitOfWork:
    """Commit on success, roll back on any error; `on_commit` runs after a commit only."""

    def __init__(
        self,
        session: Session | Engine,
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        # Given an engine, the unit opens a session of its own and closes it at the end.
        self._owns_session = isinstance(session, Engine)
        if isinstance(session, Engine):
            session = Session(session, expire_on_commit=False)
        self.session = session
        self.on_commit = on_commit

    def __enter__(self) -> Session:
        return self.session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            if self._owns_session:
                self.session.close()
        if exc_type is None and self.on_commit is not None:
            self.on_commit()


def wake_relay(runtime: Runtime) -> None:
    """Nudge the relay from a handler's worker thread or from the event loop."""
    try:
        from_thread.run_sync(runtime.wake_relay)
    except RuntimeError:  # not inside a worker thread (called from the event loop)
        runtime.wake_relay()


class Write:
    """A write request's shape, once: If-Match → service → response → commit → ETag.

    ```
    with write.unit(if_match=project.version) as session:
        service.update_project(session, ...)
        out = public(session, project)
    write.etag(project.version)
    ```
    """

    def __init__(self, request: Request, response: Response, session: Session) -> None:
        self.request = request
        self.response = response
        self.session = session

    @contextmanager
    def unit(self, *, if_match: int | None = None) -> Iterator[Session]:
        """Check If-Match against `if_match` (when given), then one unit of work."""
        if if_match is not None:
            require_if_match(self.request, if_match)
        runtime: Runtime = self.request.app.state.runtime
        with UnitOfWork(self.session, on_commit=lambda: wake_relay(runtime)) as session:
            yield session

    def etag(self, version: int) -> None:
        set_etag(self.response, version)


def get_write(request: Request, response: Response, session: SessionDep) -> Write:
    return Write(request, response, session)


WriteDep = Annotated[Write, Depends(get_write)]
