"""The tables of Dispatch, as SQLAlchemy 2 typed models.

Campaigns, deliveries and events arrive with their own migrations.
"""

from __future__ import annotations

import base64
import enum
import secrets
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from dispatch.store.types import JsonType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        name=cls.__name__.lower(),
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    # Public from `published_at` on (`dispatch.visibility`); the scheduler then marks it
    # published, rebuilds the feeds and makes its sends.
    SCHEDULED = "scheduled"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_articles_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The permanent id: feed ids and links derive from it, never from slug or title.
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")  # sanitised at ingest
    body_text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(100), index=True)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    image: Mapped[str | None] = mapped_column(Text)
    image_caption: Mapped[str | None] = mapped_column(Text)
    image_alt: Mapped[str | None] = mapped_column(Text)  # the feature image's alt text
    canonical_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ArticleStatus] = mapped_column(
        _enum(ArticleStatus), default=ArticleStatus.PUBLISHED, index=True
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where it came from, for de-duplication and idempotent re-import.
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The Markdown written in the admin or sent through the API (None for imported files).
    body_markdown: Mapped[str | None] = mapped_column(Text)
    # Identity of imported articles beyond source_id (`ingest.identity`): the file it was
    # last read from, and a fingerprint of its title and date that survives a move.
    source_path: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # The source version last seen (applied or ignored by an editor), and when an editor
    # last changed the article: from then on a changed source waits as a conflict.
    source_hash: Mapped[str | None] = mapped_column(String(64))
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lists that get it as a one-off send when the scheduler publishes it.
    send_to: Mapped[list[str] | None] = mapped_column(JsonType)

    old_slugs: Mapped[list[ArticleSlug]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True
    )


class ArticleTombstone(Base):
    """An imported article an editor deleted: its unchanged source never brings it back."""

    __tablename__ = "article_tombstones"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_article_tombstones_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleConflict(Base):
    """A changed source of an article an editor changed or deleted, waiting for the editor
    to accept it (the source's version replaces the article) or ignore it."""

    __tablename__ = "article_conflicts"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_article_conflicts_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL when the editor deleted the article (accepting brings it back).
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str | None] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JsonType)  # the source's ArticleFields
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    article: Mapped[Article | None] = relationship()


class ArticleSlug(Base):
    """A slug an article used to have; its old URLs redirect to the current one."""

    __tablename__ = "article_slugs"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))

    article: Mapped[Article] = relationship(back_populates="old_slugs")


class MailingList(Base):
    """A list subscribers join: seeded from config.toml by `dispatch init`, then the truth."""

    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    sections: Mapped[list[str]] = mapped_column(JsonType, default=list)
    schedule: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    from_name: Mapped[str] = mapped_column(Text)
    from_email: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when an editor changed the list (admin, `dispatch lists edit`): from then on
    # `dispatch init` leaves it alone; NULL lists still follow config.toml.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def new_token_key() -> str:
    """A subscriber's link key: 96 random bits, carried by every token in their mail."""
    return secrets.token_urlsafe(12)


def new_token_keys(count: int) -> list[str]:
    """`count` keys like `new_token_key`'s, from one read of the random source (an
    import's batch): 12 bytes are exactly 16 base64 characters, so one encoding splits."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode("ascii")
    return [text[start : start + 16] for start in range(0, 16 * count, 16)]


class Subscriber(Base):
    __tablename__ = "subscribers"
    # Ids are never handed out twice (SQLite would otherwise reuse the highest after a
    # delete): links in old mail must never name somebody else (migration 0015a).
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    # Every link token carries it (`dispatch.tokens`): erased with the person, so their
    # links never open anything again, whoever signs up next.
    token_key: Mapped[str] = mapped_column(String(32), default=new_token_key)
    # Stored before migration 0015a: keyless tokens in mail already sent still work.
    legacy_links: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class SubscriberTag(Base):
    """One tag a subscriber carries (`subscribers.tags`); lower-cased, at most 100 chars."""

    __tablename__ = "subscriber_tags"
    # The primary key answers "this person's tags" and "does this person carry X"
    # (segments); the index answers "who carries X".
    __table_args__ = (Index("ix_subscriber_tags_tag", "tag", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class Segment(Base):
    """A saved filter over a list's subscribers, in the language of `dispatch.segments`."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("list_id", "name", name="uq_segments_list_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    expression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mailing_list: Mapped[MailingList] = relationship()


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_list_status", "list_id", "status"),
        # The welcome series' due people: confirmed on the list in a window of time.
        Index("ix_subscriptions_list_confirmed_at", "list_id", "confirmed_at"),
    )

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[SubscriptionStatus] = mapped_column(_enum(SubscriptionStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "import" when a bulk import confirmed the subscription (the file said so, or
    # `--confirmed`): the welcome series is for people who joined, not for a moved
    # audience. NULL when the person confirmed (or joined a single opt-in list) themselves.
    confirmed_via: Mapped[str | None] = mapped_column(String(16))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last confirmation mail sent for it: at most one an hour (a sign-up flood).
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    mailing_list: Mapped[MailingList] = relationship()


class Suppression(Base):
    """An address that must never be mailed again (bounce, complaint, operator)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionLift(Base):
    """A suppression an editor lifted: the address, why it was suppressed, and why not now."""

    __tablename__ = "suppression_lifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    previous_reason: Mapped[str] = mapped_column(String(50))
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    lifted_by: Mapped[str] = mapped_column(String(320))
    lifted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriberMerge(Base):
    """A subscriber merged into another whose address normalises alike (migration 0011a
    merged `Ann@example.org` into `ann@example.org`). Links in mail sent before carry
    the old id: they act on the subscriber kept. Ids are never reused, so this stays true.
    """

    __tablename__ = "subscriber_merges"

    merged_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignKind(enum.StrEnum):
    DIGEST = "digest"
    ONE_OFF = "one_off"
    WELCOME = "welcome"  # one welcome series step to the people it came due for


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    SENT = "sent"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not handed to the provider yet (or due for a retry)
    SENDING = "sending"  # claimed by a runner (`claimed_by`); `handed_at` once handed over
    SENT = "sent"  # the provider accepted it
    FAILED = "failed"  # permanent failure, or retries exhausted
    SKIPPED = "skipped"  # never handed over: unsubscribed or suppressed since freezing
    CANCELLED = "cancelled"  # never handed over: the campaign was cancelled first
    BOUNCED = "bounced"  # the provider reported a bounce later


class Campaign(Base):
    """One send to one list; its deliveries are the ledger of who got it."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Public, unguessable-enough key for archive URLs; digests also carry `period_key`.
    key: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: uuid.uuid4().hex)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[CampaignKind] = mapped_column(_enum(CampaignKind))
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus), default=CampaignStatus.DRAFT, index=True
    )
    subject: Mapped[str] = mapped_column(Text)
    preheader: Mapped[str] = mapped_column(Text, default="")
    article_ids: Mapped[list[int]] = mapped_column(JsonType, default=list)
    body_markdown: Mapped[str | None] = mapped_column(Text)  # free one-off written by an editor
    # The rendered message frozen when sending starts, so a resume sends the same bytes.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    test_to: Mapped[str | None] = mapped_column(String(320))
    # Idempotency for scheduled digests: list + scheduled period; at most one campaign each.
    period_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # Paused by a temporary fault of the provider (unreachable, 421, 5xx): sending resumes
    # by itself at this time; NULL when an editor paused it or a human must fix something.
    auto_resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    auto_resumes: Mapped[int] = mapped_column(Integer, default=0)  # in a row; sets the backoff
    recipients_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sent to the part of the list a segment selects: its expression is copied when the
    # campaign is created, so editing or deleting the segment later changes nothing here.
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), index=True
    )
    segment_expression: Mapped[str | None] = mapped_column(Text)
    # A welcome step's campaign: the step's key, and its email template (None: an article).
    welcome_step: Mapped[str | None] = mapped_column(String(100))
    template: Mapped[str | None] = mapped_column(String(64))

    mailing_list: Mapped[MailingList] = relationship()
    segment: Mapped[Segment | None] = relationship()


class Delivery(Base):
    """The ledger: one row per campaign and recipient, written after the provider answered."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id", name="uq_deliveries_campaign_subscriber"),
        Index("ix_deliveries_campaign_status", "campaign_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # NULL only for a test send to an address that is not a subscriber. Indexed: erasing
    # or merging a subscriber finds their rows without reading the whole ledger.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The runner that claimed it (status `sending`) and until when the claim holds; a
    # claim is renewed while its runner lives, and only an expired one is ever taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Committed just before the message is handed to the provider: a claim that expires
    # with it set has an unknown outcome (in doubt); without it, it was never handed over.
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Times this recipient's outcome was unknown (no reply after the message, a crash
    # after the hand-over) and it was sent again: each one a possible duplicate.
    doubts: Mapped[int] = mapped_column(Integer, default=0)


class WelcomeStep(Base):
    """A welcome series step as first seen in the configuration (by its stable key): it
    reaches only people whose time for it comes after that (less a grace period)."""

    __tablename__ = "welcome_steps"
    __table_args__ = (UniqueConstraint("list_id", "key", name="uq_welcome_steps_list_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WelcomeSend(Base):
    """One welcome step given to one subscriber: unique, so a step goes out at most once
    per person, whatever restarts, crashes, concurrent runs or edits of the series."""

    __tablename__ = "welcome_sends"
    __table_args__ = (
        UniqueConstraint(
            "list_id", "subscriber_id", "step_key", name="uq_welcome_sends_list_subscriber_step"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    step_key: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignLink(Base):
    """A link of a campaign sent with click tracking: `/r/<token>` leads here and only here."""

    __tablename__ = "campaign_links"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position", name="uq_campaign_links_campaign_position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the link index the token names
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(Integer, default=0)  # every click, in aggregate


class LinkClick(Base):
    """A person's first click on a link (per-person tracking only): one row per both."""

    __tablename__ = "link_clicks"
    __table_args__ = (
        UniqueConstraint("link_id", "subscriber_id", name="uq_link_clicks_link_subscriber"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("campaign_links.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionStamp(Base):
    """A subscription's earlier confirmation or unsubscribe time, kept when a later one
    overwrote it on the row (a reader who left and came back): growth charts count each
    change once, in the period it happened."""

    __tablename__ = "subscription_stamps"
    __table_args__ = (Index("ix_subscription_stamps_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "subscribed" | "unsubscribed"
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Unsubscribe(Base):
    """One unsubscribe, with the campaign whose link it came from when the link said so."""

    __tablename__ = "unsubscribes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DigestRun(Base):
    """What became of one scheduled digest period: written when the period is handled, so
    that a period whose run was lost (a crash just after the fire time) is found at start."""

    __tablename__ = "digest_runs"

    period_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    list_slug: Mapped[str] = mapped_column(String(100), index=True)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    # created | nothing-new | no-recipients | missed (later than the grace period)
    outcome: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """A provider event (webhook, bounce, complaint), stored once per provider event id."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", name="uq_events_provider_event"),
        Index("ix_events_subscriber_type", "subscriber_id", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    provider_event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    # The subscriber it concerns (bounces, complaints); erased with them.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)  # diagnostic: "550 5.1.1 user unknown"
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UpstreamStatus(enum.StrEnum):
    ACTIVE = "active"
    # Answered, but the parser had to recover from a malformed document (feedparser's
    # `bozo`): entries are read, yet none may shorten an article (`last_error` says why).
    DEGRADED = "degraded"
    RETIRED = "retired"  # the feed answered 410 Gone: never polled again on schedule


class UpstreamSource(Base):
    """The polling state of one configured upstream feed (`[[upstream.sources]]`)."""

    __tablename__ = "upstream_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The feed's name, or its URL as first configured; articles' source_id starts with it.
    key: Mapped[str] = mapped_column(String(2000), unique=True)
    config_url: Mapped[str] = mapped_column(Text)  # the URL in config.toml
    url: Mapped[str] = mapped_column(Text)  # where it is fetched now (after 301/308)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[UpstreamStatus] = mapped_column(
        _enum(UpstreamStatus), default=UpstreamStatus.ACTIVE
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; 0 after a success
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EditorRole(enum.StrEnum):
    ADMIN = "admin"  # everything, including managing editors and API tokens
    EDITOR = "editor"  # articles, lists, subscribers, campaigns; not editors or tokens


class Editor(Base):
    """A person who logs in to /admin; the password is stored as an argon2 hash."""

    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised, lower-case
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[EditorRole] = mapped_column(_enum(EditorRole), default=EditorRole.EDITOR)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Signed session cookies carry it: bumping it (new password, disabled) ends every session.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # since the last success
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for /api: `dispatch_<prefix>_<secret>`, stored as sha256 of the whole."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)  # unique among live tokens
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown in lists, finds the row
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    created_by: Mapped[int | None] = mapped_column(  # NULL: created on the command line
        ForeignKey("editors.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EditorSession(Base):
    """One admin login, server-side: the cookie works only while its row exists (logout,
    a new password and "log out everywhere" delete rows). `id` is the sha256 of the
    session id the signed cookie carries, so the table alone opens nothing."""

    __tablename__ = "editor_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("editors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class AuditEntry(Base):
    """One editor action (login, send, pause, delete, export, …): who, what, on what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("editors.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(320))  # editor address, "api:<token>", "cli"
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class ImportJob(Base):
    """A CSV upload imported in the background: where it is, and what came of it (the
    admin's progress page reads this; one row per upload)."""

    __tablename__ = "import_jobs"
    __table_args__ = ({"sqlite_autoincrement": True},)  # a job id is never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_slug: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(20), default="auto")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # running, done, failed
    bytes_total: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    problems: Mapped[list[str]] = mapped_column(JsonType, default=list)  # "name:line: reason"
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("editors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
