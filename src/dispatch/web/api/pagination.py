"""Page-numbered lists: `?page=1&per_page=20` in, `{items, total, page, per_page, next}` out.

`next` is the absolute URL of the following page (the request's other query parameters
kept), or null on the last page. Queries are counted and sliced in the database, so a
list of a million subscribers costs one COUNT and one LIMIT/OFFSET.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 1_000_000
Item = TypeVar("Item")
Row = TypeVar("Row")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    page: int
    per_page: int
    next: str | None


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int
    request: Request

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def build(self, items: Sequence[Item], total: int) -> Page[Item]:
        more = self.offset + len(items) < total
        url = self.request.url.include_query_params(page=self.page + 1, per_page=self.per_page)
        return Page[Any](
            items=list(items),
            total=total,
            page=self.page,
            per_page=self.per_page,
            next=str(url) if more else None,
        )


def page_params(
    request: Request,
    page: int = Query(1, ge=1, le=MAX_PAGE, description="Page number, from 1."),
    per_page: int = Query(
        DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="Items per page (at most 100)."
    ),
) -> PageParams:
    return PageParams(page, per_page, request)


def paginate(
    session: Session,
    query: Select[Any],
    params: PageParams,
    convert: Callable[[Any], Item],
    scalars: bool = True,
) -> Page[Item]:
    """One page of `query` (which must be ordered), each row passed through `convert`."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())))
    sliced = query.offset(params.offset).limit(params.per_page)
    rows = session.scalars(sliced).all() if scalars else session.execute(sliced).all()
    return params.build([convert(row) for row in rows], total)


def paginate_list(items: Sequence[Row], params: PageParams) -> Page[Row]:
    """One page of a list already in memory (a handful of configured lists)."""
    return params.build(items[params.offset : params.offset + params.per_page], len(items))
