"""`/api/subscribers`: create, get (by id or email), update, erase, join and leave lists.

Addresses are normalised as everywhere (`addresses.normalise_address`). Joining a list
with `confirmed: false` follows the list's opt-in rules (`optin.sign_up`), and the
confirmation or welcome mail goes out after the response, as from the subscribe page;
`confirmed: true` is an operator's add (`membership.add_subscriber`), so a suppressed
address or one that left the list is refused (409): only they can opt back in.
Deleting a subscriber erases everything held about the address (`erase_subscriber`).

Scopes: reading a subscriber needs `subscribers:read`; a `subscribers:write` token
changes people without seeing them (PATCH answers 204 unless the token may also read,
and an empty PATCH is refused before anyone is looked up).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
from dispatch.auth.tokens import ApiPrincipal
from dispatch.errors import NotFound
from dispatch.lists import get_list
from dispatch.store.models import Subscriber, Subscription
from dispatch.subscribers import optin
from dispatch.subscribers.addresses import clean_name, normalise_address, stored_form
from dispatch.subscribers.erase import erase_subscriber
from dispatch.subscribers.membership import add_subscriber
from dispatch.subscribers.tags import set_tags, tags_of
from dispatch.subscribers.transactional import Mail
from dispatch.tokens import ListClaim
from dispatch.web import subscribe
from dispatch.web.api.context import database_of, in_store, now
from dispatch.web.api.errors import ApiProblem, responses
from dispatch.web.api.schemas import (
    NO_NUL,
    Erasure,
    JoinIn,
    JoinOut,
    SubscriberCreate,
    SubscriberOut,
    SubscriberUpdate,
    SubscriptionOut,
)

MAX_ID = 2**31 - 1
router = APIRouter(prefix="/subscribers", tags=["subscribers"])
READ = Depends(api_principal("subscribers:read"))
WRITE = Depends(api_principal("subscribers:write"))
Ref = Path(pattern=NO_NUL, max_length=320, description="The subscriber's id or email address.")
ListSlug = Path(pattern=NO_NUL, max_length=100, description="The list's slug.")


def find(session: Session, ref: str) -> Subscriber:
    person = None
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ID:
        person = session.get(Subscriber, optin.current_id(session, int(ref)))
    elif "@" in ref:
        address = stored_form(ref) or ref.strip()  # as typed: a row migration 0011a kept
        person = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if person is None:
        raise NotFound(f'no subscriber "{ref}" (by id or email address)')
    return person


def subscriber_out(session: Session, person: Subscriber) -> SubscriberOut:
    session.refresh(person)
    return SubscriberOut(
        id=person.id,
        email=person.email,
        name=person.name,
        attributes=dict(person.attributes),
        tags=tags_of(session, person.id),
        suppressed=optin.is_suppressed(session, person.email),
        created_at=person.created_at,
        updated_at=person.updated_at,
        subscriptions=[
            _subscription(s)
            for s in sorted(person.subscriptions, key=lambda s: s.mailing_list.slug)
        ],
    )


def _subscription(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        list=row.mailing_list.slug,
        status=row.status,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
    )


@router.post(
    "",
    response_model=SubscriberOut,
    status_code=201,
    dependencies=[WRITE],
    responses=responses(409),
)
async def create(request: Request, payload: SubscriberCreate) -> SubscriberOut:
    """A subscriber on no list yet (join lists with PUT …/lists/{slug})."""
    when = now(request)

    def work(session: Session) -> SubscriberOut:
        address = normalise_address(payload.email)
        if session.scalar(select(Subscriber.id).where(Subscriber.email == address)):
            raise ApiProblem(409, f"{address} is already a subscriber", "body.email")
        person = Subscriber(
            email=address,
            name=clean_name(payload.name),
            attributes=dict(payload.attributes),
            created_at=when,
            updated_at=when,
        )
        session.add(person)
        session.flush()
        set_tags(session, person.id, payload.tags)
        return subscriber_out(session, person)

    return await in_store(request, work, field="body.email")


@router.get("/{ref}", response_model=SubscriberOut, dependencies=[READ], responses=responses(404))
async def get_one(request: Request, ref: str = Ref) -> SubscriberOut:
    return await in_store(request, lambda s: subscriber_out(s, find(s, ref)))


@router.patch(
    "/{ref}",
    response_model=SubscriberOut,
    responses={204: {"description": "Changed (a token without `subscribers:read`: no body)"}}
    | responses(404),
)
async def update(
    request: Request,
    payload: SubscriberUpdate,
    ref: str = Ref,
    principal: ApiPrincipal = WRITE,
) -> SubscriberOut | Response:
    """Change the name and/or replace the attributes and/or the tags. The subscriber
    comes back only to a token that may read subscribers; a write-only token gets 204."""
    if payload.name is None and payload.attributes is None and payload.tags is None:
        raise ApiProblem(422, "nothing to change: give name, attributes and/or tags", "body")
    when = now(request)
    readable = principal.allows("subscribers:read")

    def work(session: Session) -> SubscriberOut | None:
        person = find(session, ref)
        if payload.name is not None:
            person.name = clean_name(payload.name)
        if payload.attributes is not None:
            person.attributes = dict(payload.attributes)
        if payload.tags is not None:
            set_tags(session, person.id, payload.tags)
        person.updated_at = when
        session.flush()
        return subscriber_out(session, person) if readable else None

    changed = await in_store(request, work)
    return changed if changed is not None else Response(status_code=204)


@router.delete("/{ref}", response_model=Erasure, dependencies=[WRITE], responses=responses(404))
async def erase(request: Request, ref: str = Ref) -> Erasure:
    """Erase the person: subscriber, subscriptions, deliveries and suppressions."""

    def work(session: Session) -> Erasure:
        done = erase_subscriber(session, find(session, ref).email)
        return Erasure(
            email=done.email,
            subscriber=done.subscriber,
            subscriptions=done.subscriptions,
            suppressions=done.suppressions,
        )

    return await in_store(request, work)


@router.put(
    "/{ref}/lists/{slug}",
    response_model=JoinOut,
    dependencies=[WRITE],
    responses=responses(404, 409),
)
async def join(
    request: Request,
    background: BackgroundTasks,
    payload: JoinIn | None = None,
    ref: str = Ref,
    slug: str = ListSlug,
) -> JoinOut:
    """Subscribe to a list: confirmed at once, or by the list's opt-in rules."""
    confirmed = payload.confirmed if payload is not None else False
    when = now(request)

    def work(session: Session) -> tuple[JoinOut, list[Mail]]:
        person = find(session, ref)
        row = get_list(session, slug)
        if optin.is_suppressed(session, person.email):
            raise ApiProblem(409, f"{person.email} is suppressed: it is never mailed", "path.ref")
        mails = (
            _confirmed(session, person, slug) if confirmed else _opt_in(session, person, slug, when)
        )
        joined = session.scalar(
            select(Subscription)
            .where(Subscription.subscriber_id == person.id, Subscription.list_id == row.id)
            .execution_options(populate_existing=True)
        )
        assert joined is not None
        mail = mails[0].kind if mails else None
        return JoinOut(subscription=_subscription(joined), mail=mail), mails  # type: ignore[arg-type]

    result, mails = await in_store(request, work)
    if mails:
        mailer = subscribe.services(request).mailer
        background.add_task(mailer.deliver, database_of(request), mails)
    return result


def _confirmed(session: Session, person: Subscriber, slug: str) -> list[Mail]:
    added = add_subscriber(session, slug, person.email, name=person.name, confirmed=True)
    if added.refused:
        raise ApiProblem(409, f"{person.email}: {added.describe()}", "path.ref")
    return []


def _opt_in(session: Session, person: Subscriber, slug: str, when: datetime) -> list[Mail]:
    return optin.sign_up(session, person.email, person.name, [slug], when)


@router.delete(
    "/{ref}/lists/{slug}",
    response_model=SubscriptionOut,
    dependencies=[WRITE],
    responses=responses(404),
)
async def leave(request: Request, ref: str = Ref, slug: str = ListSlug) -> SubscriptionOut:
    """Unsubscribe from a list (idempotent); 404 if they were never on it."""
    when = now(request)

    def work(session: Session) -> SubscriptionOut:
        person = find(session, ref)
        row = get_list(session, slug)
        if optin.unsubscribe(session, ListClaim(person.id, slug, person.token_key), when) == "gone":
            raise NotFound(f"{person.email} is not on the list {slug}")
        left = session.scalar(
            select(Subscription)
            .where(Subscription.subscriber_id == person.id, Subscription.list_id == row.id)
            .execution_options(populate_existing=True)
        )
        assert left is not None
        return _subscription(left)

    return await in_store(request, work)
