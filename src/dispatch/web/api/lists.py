"""`/api/lists`: the configured lists with their subscription counts, and their members.

Lists come from config.toml (synced into the store by `dispatch init`); the API reads
them. Members are paged and may be filtered by subscription status.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
from dispatch.lists import ListCounts, get_list, list_counts
from dispatch.store.models import MailingList, Subscriber, Subscription, SubscriptionStatus
from dispatch.web.api.context import in_store
from dispatch.web.api.errors import responses
from dispatch.web.api.pagination import Page, PageParams, page_params, paginate, paginate_list
from dispatch.web.api.schemas import NO_NUL, ListCountsOut, ListOut, Member

router = APIRouter(prefix="/lists", tags=["lists"])
ListSlug = Path(pattern=NO_NUL, max_length=100, description="The list's slug.")


def list_out(row: MailingList, counts: ListCounts | None) -> ListOut:
    found = counts or ListCounts(row.slug, row.name)
    return ListOut(
        slug=row.slug,
        name=row.name,
        description=row.description,
        sections=list(row.sections),
        schedule=row.schedule,
        timezone=row.timezone,
        from_name=row.from_name,
        from_email=row.from_email,
        reply_to=row.reply_to,
        double_opt_in=row.double_opt_in,
        counts=ListCountsOut(
            pending=found.pending, confirmed=found.confirmed, unsubscribed=found.unsubscribed
        ),
    )


def all_lists(session: Session) -> list[ListOut]:
    counts = {item.slug: item for item in list_counts(session)}
    rows = session.scalars(select(MailingList).order_by(MailingList.slug))
    return [list_out(row, counts.get(row.slug)) for row in rows]


def one_list(session: Session, slug: str) -> ListOut:
    row = get_list(session, slug)
    counts = next((c for c in list_counts(session) if c.slug == slug), None)
    return list_out(row, counts)


@router.get(
    "",
    response_model=Page[ListOut],
    dependencies=[Depends(api_principal("lists:read"))],
)
async def lists(request: Request, params: PageParams = Depends(page_params)) -> Page[ListOut]:
    """Every list, by slug, with pending / confirmed / unsubscribed counts."""
    found = await in_store(request, all_lists)
    return paginate_list(found, params)


@router.get(
    "/{slug}",
    response_model=ListOut,
    dependencies=[Depends(api_principal("lists:read"))],
    responses=responses(404),
)
async def get_one(request: Request, slug: str = ListSlug) -> ListOut:
    return await in_store(request, one_list, slug)


@router.get(
    "/{slug}/subscribers",
    response_model=Page[Member],
    dependencies=[Depends(api_principal("subscribers:read"))],
    responses=responses(404),
)
async def members(
    request: Request,
    slug: str = ListSlug,
    status: SubscriptionStatus | None = Query(None, description="Only this status."),
    params: PageParams = Depends(page_params),
) -> Page[Member]:
    """The list's subscribers in the order they joined."""

    def work(session: Session) -> Page[Member]:
        query = (
            select(Subscriber, Subscription)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .where(Subscription.list_id == get_list(session, slug).id)
            .order_by(Subscription.created_at, Subscriber.id)
        )
        if status is not None:
            query = query.where(Subscription.status == status)
        return paginate(session, query, params, _member, scalars=False)

    return await in_store(request, work)


def _member(row: tuple[Subscriber, Subscription]) -> Member:
    person, subscription = row
    return Member(
        id=person.id,
        email=person.email,
        name=person.name,
        status=subscription.status,
        created_at=subscription.created_at,
        confirmed_at=subscription.confirmed_at,
        unsubscribed_at=subscription.unsubscribed_at,
    )
