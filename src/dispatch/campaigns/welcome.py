"""The welcome series: each `[[lists.welcome]]` step, once per subscriber, through the
one engine and its ledger.

A run (the `welcome:send` job every `scheduler.welcome_seconds`, and at confirmation
for the steps due at once) finds, per list and step, the people it came due for:
confirmed and unsuppressed now, confirmed at least `after` ago, and not given this step
yet. For them it creates ONE campaign (kind `welcome`, the step's key and content) and,
in the same transaction, one `welcome_sends` row each — unique on (list, subscriber,
step key) — and starts it, freezing exactly those people as its ledger rows. So a step
goes out at most once per person whatever crashes, restarts or concurrent runs happen
(the unique row and the campaign commit together or not at all), and the engine resumes
a step's campaign like any other. People who unsubscribe or are suppressed before a
step never get it (and the engine skips those who leave between freezing and sending).

Steps are known by their stable `key`: editing `after`, the template or the article
never re-sends a step. A step reaches only people whose time for it (confirmation +
`after`) comes after the step was first seen (`welcome_steps`), less `GRACE`: adding a
series, or a step in the middle of one, does not mail everyone who confirmed long ago.
People an import confirmed (`subscriptions.confirmed_via`) are not welcomed: an audience
moved from another service has been welcomed there; one who confirms later by their own
link is. A step more than `MAX_LATE` overdue (no scheduler ran for a month) is not sent either; so
each run reads only the people confirmed in that window (`ix_subscriptions_list_confirmed_at`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.campaigns.start import start_campaign
from dispatch.config import DEFAULT_WELCOME, ListSettings, Settings, WelcomeStepSettings
from dispatch.errors import DispatchError
from dispatch.ingest.articles import resolve_article
from dispatch.logs import event
from dispatch.store.database import Database
from dispatch.store.models import (
    ArticleStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    WelcomeSend,
    WelcomeStep,
)

log = logging.getLogger(__name__)
GRACE = timedelta(days=2)
MAX_LATE = timedelta(days=30)  # a step this overdue (the scheduler down) is not sent
BATCH = 5000  # people per step campaign; a run makes as many as it needs
SENDS = WelcomeSend.__table__


class NothingDue(Exception):
    """No one is due for the step (any more): the transaction is rolled back."""


def register_steps(session: Session, settings: Settings, now: datetime) -> None:
    """Record each configured step the first time it is seen (INSERT … ON CONFLICT)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    ids = dict(session.execute(select(MailingList.slug, MailingList.id)).all())
    rows = [
        {"list_id": ids[item.slug], "key": step.key, "first_seen_at": now}
        for item in settings.lists
        if item.slug in ids
        for step in item.welcome_steps
    ]
    if rows:
        statement = module.insert(WelcomeStep).on_conflict_do_nothing(
            index_elements=["list_id", "key"]
        )
        session.execute(statement, rows)


def due(list_id: int, step: WelcomeStepSettings, first_seen: datetime, now: datetime):  # type: ignore[no-untyped-def]
    """SELECT the ids of the people `step` is due for now."""
    given = exists().where(
        WelcomeSend.list_id == list_id,
        WelcomeSend.subscriber_id == Subscription.subscriber_id,
        WelcomeSend.step_key == step.key,
    )
    suppressed = exists().where(Suppression.email == Subscriber.email)
    return (
        select(Subscription.subscriber_id)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.list_id == list_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscription.confirmed_at <= now - step.delay,
            Subscription.confirmed_at >= max(first_seen - GRACE, now - MAX_LATE) - step.delay,
            Subscription.confirmed_via.is_(None),  # not an audience an import brought
            ~given,
            ~suppressed,
        )
        .order_by(Subscription.subscriber_id)
    )


def enqueue_step(
    session: Session,
    settings: Settings,
    item: ListSettings,
    step: WelcomeStepSettings,
    now: datetime,
    only: int | None = None,
) -> tuple[int, int]:
    """Create and start the step's campaign for up to BATCH people due; (campaign id,
    people). NothingDue when there are none; DispatchError when it cannot be made."""
    mailing_list = session.scalar(select(MailingList).where(MailingList.slug == item.slug))
    first_seen = session.scalar(
        select(WelcomeStep.first_seen_at).where(
            WelcomeStep.list_id == (mailing_list.id if mailing_list else -1),
            WelcomeStep.key == step.key,
        )
    )
    if mailing_list is None or first_seen is None:
        raise NothingDue
    people = due(mailing_list.id, step, first_seen, now)
    if only is not None:
        people = people.where(Subscription.subscriber_id == only)
    if session.scalar(select(people.limit(1).exists())) is not True:
        raise NothingDue
    campaign = _campaign(session, settings, mailing_list, step, now)
    chosen = people.limit(BATCH).subquery()
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = select(
        literal(mailing_list.id),
        chosen.c.subscriber_id,
        literal(step.key),
        literal(campaign.id),
        literal(now, SENDS.c.created_at.type),
    ).where(chosen.c.subscriber_id.is_not(None))  # SQLite: INSERT … SELECT … ON CONFLICT
    # parses only with a WHERE clause
    columns = ["list_id", "subscriber_id", "step_key", "campaign_id", "created_at"]
    session.execute(
        module.insert(WelcomeSend)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["list_id", "subscriber_id", "step_key"])
    )
    given = session.scalar(
        select(func.count()).select_from(WelcomeSend).where(WelcomeSend.campaign_id == campaign.id)
    )
    if not given:
        raise NothingDue  # a concurrent run took them all
    start_campaign(session, campaign, settings, now, allow_empty=True)
    return campaign.id, int(given)


def _campaign(
    session: Session,
    settings: Settings,
    mailing_list: MailingList,
    step: WelcomeStepSettings,
    now: datetime,
) -> Campaign:
    article_ids: list[int] = []
    subject = step.subject or ""
    if step.article is not None:
        article = resolve_article(session, step.article)
        if article.status != ArticleStatus.PUBLISHED:
            raise DispatchError(f'article "{step.article}" is not published')
        article_ids, subject = [article.id], step.subject or article.title
    elif not subject:
        subject = f"Welcome to {settings.list(mailing_list.slug).name}"
    campaign = Campaign(
        list_id=mailing_list.id,
        mailing_list=mailing_list,
        kind=CampaignKind.WELCOME,
        status=CampaignStatus.DRAFT,
        subject=" ".join(subject.split()),
        article_ids=article_ids,
        template=step.template,
        welcome_step=step.key,
        recipients_total=0,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    return campaign


def run_series(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    list_slug: str | None = None,
    subscriber_id: int | None = None,
    at_once_only: bool = False,
) -> list[int]:
    """Enqueue every step due now (for one list and person when given); the campaigns
    started, for the executor. A step that cannot be made is logged and left for the
    next run; the others go on."""
    with db.session() as session:
        register_steps(session, settings, now)
    started: list[int] = []
    for item in settings.lists:
        if list_slug is not None and item.slug != list_slug:
            continue
        for step in item.welcome_steps:
            if at_once_only and step.delay:
                continue
            started += _step_batches(db, settings, item, step, now, subscriber_id)
    return started


def _step_batches(
    db: Database,
    settings: Settings,
    item: ListSettings,
    step: WelcomeStepSettings,
    now: datetime,
    only: int | None,
) -> list[int]:
    started: list[int] = []
    while True:
        try:
            with db.session() as session:
                campaign_id, people = enqueue_step(session, settings, item, step, now, only)
        except NothingDue:
            return started
        except DispatchError as exc:
            event(
                log,
                "welcome.step_failed",
                logging.ERROR,
                list=item.slug,
                step=step.key,
                error=str(exc),
            )
            return started
        event(
            log, "welcome.step", list=item.slug, step=step.key, campaign=campaign_id, people=people
        )
        started.append(campaign_id)
        if people < BATCH:
            return started


def cover_built_in_welcome(
    db: Database, settings: Settings, list_slugs: Sequence[str], subscriber_id: int, now: datetime
) -> list[int]:
    """Several lists chosen at one sign-up get ONE built-in welcome: for those of
    `list_slugs` without a series of their own, record the built-in step as given (by
    the welcome the first list sends). Lists with configured steps keep them. Returns
    the ids of the lists this call recorded: none when another request already did (a
    confirmation link opened twice at once), and then this one sends nothing."""
    plain = [item.slug for item in settings.lists if item.slug in list_slugs and not item.welcome]
    recorded: list[int] = []
    if not plain:
        return recorded
    with db.session() as session:
        module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        for list_id in session.scalars(select(MailingList.id).where(MailingList.slug.in_(plain))):
            done = session.scalar(  # RETURNING: psycopg reports no rowcount for it
                module.insert(WelcomeSend)
                .values(
                    list_id=list_id,
                    subscriber_id=subscriber_id,
                    step_key=DEFAULT_WELCOME[0].key,
                    campaign_id=None,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["list_id", "subscriber_id", "step_key"])
                .returning(WelcomeSend.list_id)
            )
            if done is not None:
                recorded.append(list_id)
    return recorded


def uncover_built_in_welcome(
    db: Database, list_ids: Sequence[int], subscriber_id: int, now: datetime
) -> None:
    """Take back what `cover_built_in_welcome` recorded when its one mail was not sent
    (the provider refused or was down): the welcome job then sends each list's built-in
    welcome through the engine, which retries, instead of nobody ever sending one."""
    with db.session() as session:
        session.execute(
            delete(WelcomeSend).where(
                WelcomeSend.list_id.in_(list_ids),
                WelcomeSend.subscriber_id == subscriber_id,
                WelcomeSend.step_key == DEFAULT_WELCOME[0].key,
                WelcomeSend.campaign_id.is_(None),
                WelcomeSend.created_at == now,
            )
        )
