"""Dependencies the projects service's routers share: the path's project, ids, the date."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.common.auth import ProjectWriter, Reader
from services.common.errors import Invalid
from services.common.runtime import SessionDep, TodayDep
from services.projects import service
from services.projects.labels import MESSAGES
from services.projects.models import Project

MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="The row's id")]


def clean_text(value: str | None, name: str) -> str | None:
    """A free-text query value, refused (422) when it holds a NUL, which no database stores."""
    if value is not None and "\x00" in value:
        raise Invalid(MESSAGES("query_nul", name=name), loc=["query", name])
    return value


Today = TodayDep


def load_project(project_id: RowId, session: SessionDep, _: Reader) -> Project:
    """The project named in the path (404 otherwise), for any reader."""
    return service.get(session, project_id)


ProjectDep = Annotated[Project, Depends(load_project)]


def writable_project(principal: ProjectWriter, project: ProjectDep) -> Project:
    """The project of the path, for a writer whose sub-district scope holds it (403 otherwise)."""
    principal.check_scope(project.sub_district)
    return project


WritableProject = Annotated[Project, Depends(writable_project)]
