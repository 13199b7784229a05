"""Creating campaigns: a list's digest, a one-off article, a one-off note, test sends.

A digest carries the list's articles published since its previous digest (the latest
non-test digest of the list that reached somebody or is on its way: scheduled, sending
or paused — so that no article goes out twice, and none is lost to a digest that reached
nobody), or, for a list's first digest, since one schedule period back. The cut-off is
exact: a digest selects articles published up to its own `created_at`, and the next one
starts there. Nothing new → no campaign.
An article the list already got as a one-off (sent or on its way, not a test) is left
out of its digests, unless the editor includes it by slug (`DigestPlan.left_out` names
those left out, so that a preview can offer them).

A campaign may target a segment of its list (`Options.segment`): the segment's expression
is copied onto the campaign, and recipients are frozen by it when sending starts.

Every campaign is created as a draft, or `scheduled` when given a time (never in the
past); `start.start_campaign` renders and freezes it when sending begins.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dispatch.campaigns import lifecycle
from dispatch.campaigns.content import TEST_PREFIX, CampaignRenderer, render_campaign
from dispatch.config import Settings
from dispatch.errors import CampaignError
from dispatch.ingest.articles import resolve_article
from dispatch.lists import get_list, live_settings
from dispatch.render.digest import default_since, select_articles
from dispatch.segments.saved import find_segment
from dispatch.store.models import (
    Article,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    MailingList,
)
from dispatch.subscribers.addresses import normalise_address

ON_ITS_WAY = (
    CampaignStatus.SENT,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.SCHEDULED,
)


@dataclass(frozen=True)
class Options:
    """How the editor wants it sent."""

    test_to: str | None = None  # send only to this address, marked as a test
    at: datetime | None = None  # schedule for this (UTC-aware) time instead of a draft
    period_key: str | None = None  # the scheduler's idempotency key for a digest period
    segment: str | None = None  # send only to this saved segment of the list (its name)
    expression: str | None = None  # or to those this segment expression selects


@dataclass(frozen=True)
class Created:
    campaign: Campaign
    warnings: tuple[str, ...] = ()  # from rendering (e.g. a digest trimmed to fit)


@dataclass(frozen=True)
class DigestPlan:
    list_slug: str
    since: datetime
    until: datetime
    articles: list[Article] = field(default_factory=list)
    left_out: list[Article] = field(default_factory=list)  # sent to the list as one-offs


def plan_digest(
    session: Session,
    settings: Settings,
    list_slug: str,
    now: datetime,
    since: datetime | None = None,
    include: Collection[str] = (),
    edition: str | None = None,
) -> DigestPlan:
    """The articles a digest of `list_slug` would carry if created at `now`: those since
    `since` when given (an editor's choice), else since the previous digest (of the same
    `edition`, a `[[lists.digests]]` name, when given); without those the list got as
    one-offs, unless their slugs are in `include`."""
    item = live_settings(session, settings).list(list_slug)
    mailing_list = get_list(session, list_slug)
    schedule = item.digest(edition).schedule if edition else item.schedule
    if since is None:
        previous = (
            _previous_edition(session, mailing_list, edition)
            if edition
            else _previous_digest(session, mailing_list)
        )
        since = previous or default_since(schedule, settings.list_timezone(item), now)
    found = select_articles(session, item.sections, since, now)
    sent = sent_as_one_off(session, mailing_list, [a.id for a in found])
    kept = [a for a in found if a.id not in sent or a.slug in include]
    left_out = [a for a in found if a.id in sent and a.slug not in include]
    return DigestPlan(list_slug, since, now, kept, left_out)


def _previous_digest(session: Session, mailing_list: MailingList) -> datetime | None:
    """When the latest digest that reached somebody, or is on its way, was created."""
    reached = exists().where(
        Delivery.campaign_id == Campaign.id,
        Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.BOUNCED)),
    )
    return session.scalar(
        select(Campaign.created_at)
        .where(
            Campaign.list_id == mailing_list.id,
            Campaign.kind == CampaignKind.DIGEST,
            Campaign.test_to.is_(None),
            Campaign.status.in_(ON_ITS_WAY),
            (Campaign.status != CampaignStatus.SENT) | reached,
        )
        .order_by(Campaign.created_at.desc())
        .limit(1)
    )


def _previous_edition(session: Session, mailing_list: MailingList, edition: str) -> datetime | None:
    """When the latest scheduled digest of this edition that reached somebody, or is on
    its way, was created (its period keys start `digest:{list}/{edition}:`)."""
    reached = exists().where(
        Delivery.campaign_id == Campaign.id,
        Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.BOUNCED)),
    )
    prefix = f"digest:{mailing_list.slug}/{edition}:"
    return session.scalar(
        select(Campaign.created_at)
        .where(
            Campaign.list_id == mailing_list.id,
            Campaign.kind == CampaignKind.DIGEST,
            Campaign.period_key.startswith(prefix, autoescape=True),
            Campaign.status.in_(ON_ITS_WAY),
            (Campaign.status != CampaignStatus.SENT) | reached,
        )
        .order_by(Campaign.created_at.desc())
        .limit(1)
    )


def sent_as_one_off(
    session: Session, mailing_list: MailingList, article_ids: list[int]
) -> set[int]:
    """Which of `article_ids` the list got (or is getting) as a one-off send."""
    if not article_ids:
        return set()
    rows = session.scalars(
        select(Campaign.article_ids).where(
            Campaign.list_id == mailing_list.id,
            Campaign.kind == CampaignKind.ONE_OFF,
            Campaign.test_to.is_(None),
            Campaign.status.in_(ON_ITS_WAY),
        )
    )
    wanted = set(article_ids)
    return {article_id for ids in rows for article_id in ids or () if article_id in wanted}


def create_digest(
    session: Session, settings: Settings, plan: DigestPlan, options: Options = Options()
) -> Created | None:
    """A digest campaign of the planned articles; None when there are none."""
    if not plan.articles:
        return None
    ids = [a.id for a in plan.articles]
    draft = Draft(plan.list_slug, CampaignKind.DIGEST, plan.articles[0].title, ids)
    return _create(session, settings, draft, options, plan.until)


def create_article(
    session: Session,
    settings: Settings,
    article_slug: str,
    list_slug: str,
    now: datetime,
    options: Options = Options(),
) -> Created:
    article = resolve_article(session, article_slug)  # follows a renamed article
    draft = Draft(list_slug, CampaignKind.ONE_OFF, article.title, [article.id])
    return _create(session, settings, draft, options, now)


def create_note(
    session: Session,
    settings: Settings,
    list_slug: str,
    subject: str,
    body_markdown: str,
    now: datetime,
    options: Options = Options(),
) -> Created:
    if not subject.strip() or not body_markdown.strip():
        raise CampaignError("a note needs a subject and a body")
    draft = Draft(list_slug, CampaignKind.ONE_OFF, subject, [], body_markdown)
    return _create(session, settings, draft, options, now)


@dataclass(frozen=True)
class Draft:
    list_slug: str
    kind: CampaignKind
    subject: str
    article_ids: list[int]
    body_markdown: str | None = None


def _create(
    session: Session, settings: Settings, draft: Draft, options: Options, now: datetime
) -> Created:
    live_settings(session, settings).list(draft.list_slug)  # ConfigError: no such list
    mailing_list: MailingList = get_list(session, draft.list_slug)
    test_to = normalise_address(options.test_to) if options.test_to else None
    campaign = Campaign(
        list_id=mailing_list.id,
        mailing_list=mailing_list,
        kind=draft.kind,
        status=CampaignStatus.DRAFT,
        subject=(TEST_PREFIX if test_to else "") + " ".join(draft.subject.split()),
        preheader="",
        article_ids=draft.article_ids,
        body_markdown=draft.body_markdown,
        test_to=test_to,
        period_key=options.period_key,
        recipients_total=0,
        created_at=now,
        updated_at=now,
    )
    if options.segment and not test_to:
        target = find_segment(session, options.segment, draft.list_slug)
        campaign.segment_id, campaign.segment_expression = target.id, target.expression
    elif options.expression and not test_to:
        campaign.segment_expression = options.expression
    session.add(campaign)
    if options.at is not None:
        schedule(campaign, options.at, now)
    session.flush()
    prepared = render_campaign(CampaignRenderer(settings), session, campaign, now)
    campaign.subject, campaign.preheader = prepared.subject, prepared.preheader
    return Created(campaign, prepared.warnings)


def schedule(campaign: Campaign, at: datetime, now: datetime) -> None:
    if at.tzinfo is None:
        raise CampaignError("a schedule time must carry its time zone")
    if at <= now:
        raise CampaignError(f"cannot schedule campaign for {at.isoformat()}: that is in the past")
    lifecycle.move(campaign, CampaignStatus.SCHEDULED)
    campaign.scheduled_at = at
