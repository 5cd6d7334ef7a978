"""Pagination of list endpoints: the `limit`/`offset` query and the `{"items", "total"}` page."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_OFFSET = 2**31 - 1  # beyond any table here, and within what every database accepts

T = TypeVar("T")


class PageParams(BaseModel):
    """Which slice of a list to return: at most `limit` (1–500) items after skipping `offset`.

    Use it as a dependency (`Paging`) so every list endpoint validates the same way:

        @router.get("/things", response_model=Page[ThingPublic])
        def list_things(page: Paging, ...) -> Page[ThingPublic]:
            rows, total = service.search(session, limit=page.limit, offset=page.offset)
            return Page(items=rows, total=total)
    """

    model_config = ConfigDict(frozen=True)

    limit: int = DEFAULT_LIMIT
    offset: int = 0


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip.")] = 0,
) -> PageParams:
    """Dependency reading `?limit=&offset=`; out-of-range values are a 422 naming the field.

    Async on purpose: it does no I/O, and FastAPI runs sync dependencies in a worker thread.
    """
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list: `items` in the requested slice and `total` matching the filters."""

    items: list[T]
    total: int
