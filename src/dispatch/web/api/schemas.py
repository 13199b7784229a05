"""The JSON the API reads and writes (pydantic models; they are the OpenAPI schemas).

Strings that reach the store refuse NUL characters (PostgreSQL cannot hold them) in
the schema itself, so a client sees the rule; free-form subscriber attributes are flat
(string keys; string, number, boolean or null values).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from dispatch.store.models import ArticleStatus, CampaignStatus, SubscriptionStatus

NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL, max_length=2_000_000)]
Line = Annotated[str, Field(pattern=NO_NUL, max_length=500)]
Short = Annotated[str, Field(pattern=NO_NUL, max_length=200)]
Email = Annotated[
    str,
    Field(pattern=NO_NUL, min_length=1, max_length=320, json_schema_extra={"format": "email"}),
]
Slug = Annotated[str, Field(pattern=NO_NUL, min_length=1, max_length=200)]
Tag = Annotated[str, Field(pattern=NO_NUL, max_length=100)]
AttributeValue = (
    Annotated[str, Field(pattern=NO_NUL, max_length=1000)]
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
    | None
)
ATTRIBUTES_MAX = 50
TAGS_MAX = 100
SegmentName = Annotated[str, Field(pattern=NO_NUL, min_length=1, max_length=100)]
Expression = Annotated[str, Field(pattern=NO_NUL, min_length=1, max_length=4000)]
SEGMENT_FIELD = Field(None, description="Send only to this saved segment of the list (name).")


def _in_utc_range(value: datetime) -> datetime:
    """The store keeps times in UTC: one whose UTC time falls outside years 1..9999
    (9999-12-31T23:59-05:00) cannot be kept, so it is refused as input."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once in UTC") from None
    return value


StoredDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The body rules below (validators) said in the schema too, so a client (or a fuzzer)
# can tell a valid body from the schema alone.
NOT_BOTH_BODIES = {
    "not": {
        "required": ["body_markdown", "body_html"],
        "properties": {"body_markdown": {"type": "string"}, "body_html": {"type": "string"}},
    }
}
ONE_BODY = {
    "oneOf": [
        {
            "required": ["body_markdown"],
            "properties": {"body_markdown": {"type": "string"}, "body_html": {"type": "null"}},
        },
        {
            "required": ["body_html"],
            "properties": {"body_html": {"type": "string"}, "body_markdown": {"type": "null"}},
        },
    ]
}


class ArticleFieldsIn(Strict):
    """What an article file's front matter may set, plus its body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=NOT_BOTH_BODIES)

    title: Line | None = None
    body_markdown: Text | None = None
    body_html: Text | None = None
    summary: Text | None = None
    slug: Short | None = None
    author: Short | None = None
    section: Short | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    status: ArticleStatus | None = None
    # Publication time; a future one schedules the article (unless it is a draft).
    date: datetime | date | None = None
    image: Text | None = Field(None, description="Feature image URL (e.g. from POST /api/media).")
    image_alt: Line | None = None
    image_caption: Line | None = None
    canonical_url: Text | None = None
    send_to: Annotated[list[Short], Field(max_length=50)] | None = Field(
        None, description="List slugs that get it as a one-off send when it is published."
    )

    @model_validator(mode="after")
    def _one_body(self) -> ArticleFieldsIn:
        if self.body_markdown is not None and self.body_html is not None:
            raise ValueError("give body_markdown or body_html, not both")
        return self


class ArticleCreate(ArticleFieldsIn):
    """A new article (or, with a known `external_id`, new content for that article)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ONE_BODY)

    external_id: Short | None = Field(
        None, description="Your permanent id for it: posting it again updates the article."
    )

    @model_validator(mode="after")
    def _has_body(self) -> ArticleCreate:
        if self.body_markdown is None and self.body_html is None:
            raise ValueError("give body_markdown or body_html")
        return self


class ArticleUpdate(ArticleFieldsIn):
    """Fields to change; the others keep their values (null clears an optional one)."""


class ArticleSummary(BaseModel):
    id: int
    uid: str
    slug: str
    title: str
    summary: str
    status: ArticleStatus
    section: str | None
    tags: list[str]
    author: str | None
    image: str | None
    image_alt: str | None
    image_caption: str | None
    canonical_url: str | None
    send_to: list[str] | None
    url: str
    source: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ArticleOut(ArticleSummary):
    body_markdown: str | None = Field(description="The body as written, when in Markdown.")
    body_html: str
    body_text: str
    former_slugs: list[str]


class ArticleSaved(ArticleOut):
    action: Literal["created", "updated", "unchanged"]


class ListCountsOut(BaseModel):
    pending: int
    confirmed: int
    unsubscribed: int


class ListOut(BaseModel):
    slug: str
    name: str
    description: str
    sections: list[str]
    schedule: str
    timezone: str
    from_name: str
    from_email: str
    reply_to: str | None
    double_opt_in: bool
    counts: ListCountsOut


AttributesIn = Annotated[dict[Short, AttributeValue], Field(max_length=ATTRIBUTES_MAX)]


TagsIn = Annotated[list[Tag], Field(max_length=TAGS_MAX)]


class SubscriberCreate(Strict):
    email: Email
    name: Short = ""
    attributes: AttributesIn = {}
    tags: TagsIn = Field([], description="Lower-cased; no `,` or `;` in a tag.")


class SubscriberUpdate(Strict):
    """At least one field: an empty change is refused (it would only say who exists)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Short | None = None
    attributes: AttributesIn | None = Field(None, description="Replaces every attribute.")
    tags: TagsIn | None = Field(None, description="Replaces every tag.")


class SubscriptionOut(BaseModel):
    list: str
    status: SubscriptionStatus
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class SubscriberOut(BaseModel):
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    tags: list[str]
    suppressed: bool
    created_at: datetime
    updated_at: datetime
    subscriptions: list[SubscriptionOut]


class Member(BaseModel):
    """A subscriber as a list sees them."""

    id: int
    email: str
    name: str
    status: SubscriptionStatus
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class JoinIn(Strict):
    confirmed: bool = Field(
        False,
        description="true: confirmed at once (you have their consent); false: the list's "
        "opt-in rules apply (a confirmation mail for double opt-in lists).",
    )


class JoinOut(BaseModel):
    subscription: SubscriptionOut
    mail: Literal["confirm", "welcome"] | None = Field(
        description="The mail sent to the subscriber because of this request."
    )


class Erasure(BaseModel):
    email: str
    subscriber: int
    subscriptions: int
    suppressions: int


class DigestCreate(Strict):
    kind: Literal["digest"]
    list: Slug
    segment: SegmentName | None = SEGMENT_FIELD
    since: StoredDatetime | None = Field(
        None, description="Carry articles published after this (default: the previous digest)."
    )
    include: Annotated[list[Slug], Field(max_length=100)] = Field(
        [], description="Slugs of articles to carry even though the list got them as one-offs."
    )


class ArticleCampaignCreate(Strict):
    kind: Literal["article"]
    list: Slug
    segment: SegmentName | None = SEGMENT_FIELD
    article: Slug = Field(description="The article's slug.")


class NoteCreate(Strict):
    kind: Literal["note"]
    list: Slug
    segment: SegmentName | None = SEGMENT_FIELD
    subject: Annotated[str, Field(pattern=r"^[^\x00]*\S[^\x00]*$", max_length=500)]
    body_markdown: Annotated[str, Field(pattern=r"^[^\x00]*\S[^\x00]*$", max_length=2_000_000)]


CampaignCreate = Annotated[
    DigestCreate | ArticleCampaignCreate | NoteCreate, Field(discriminator="kind")
]


class CampaignOut(BaseModel):
    id: int
    key: str
    list: str
    kind: Literal["digest", "article", "note", "welcome"]
    status: CampaignStatus
    subject: str
    preheader: str
    article_ids: list[int]
    test_to: str | None
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    pause_reason: str | None
    recipients_total: int
    segment: str | None = Field(None, description="The segment it targets (its name).")
    segment_expression: str | None = Field(
        None, description="The segment's expression, as copied when the campaign was created."
    )
    created_at: datetime
    updated_at: datetime


class CampaignCreated(CampaignOut):
    warnings: list[str]
    recipients: int = Field(description="How many it would reach if sent now.")


class SegmentIn(Strict):
    list: Slug
    name: SegmentName
    expression: Expression


class SegmentUpdate(Strict):
    name: SegmentName | None = None
    expression: Expression | None = None


class SegmentCountIn(Strict):
    list: Slug
    expression: Expression


class SegmentOut(BaseModel):
    id: int
    list: str
    name: str
    expression: str
    created_at: datetime
    updated_at: datetime
    recipients: int | None = Field(
        None, description="Confirmed, unsuppressed subscribers it selects now (single reads)."
    )


class SegmentCount(BaseModel):
    list: str
    expression: str
    recipients: int


class DeliveryError(BaseModel):
    email: str
    error: str


class ProgressOut(BaseModel):
    total: int = Field(description="Recipients frozen when it started.")
    meant: int = Field(
        description="Recipients it is still meant to reach (total less skipped and cancelled)."
    )
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int = Field(description="Unsubscribed or suppressed since it started.")
    cancelled: int = Field(description="Not sent because the campaign was cancelled first.")
    bounced: int
    done: int = Field(description="Sent or failed.")
    percent: float = Field(description="done of meant, in percent.")
    in_doubt: int = Field(
        description="Messages sent again after an unknown outcome: possible duplicates."
    )
    running: bool = Field(description="A runner holds some of its recipients right now.")
    auto_resume_at: datetime | None = Field(
        description="Paused by a provider outage: when it resumes by itself."
    )
    last_errors: list[DeliveryError]


class LinkResultOut(BaseModel):
    position: int
    url: str
    clicks: int = Field(description="Every click on the link.")
    people: int = Field(description="Distinct people who clicked (per-person tracking only).")


class ResultsOut(BaseModel):
    """What became of the campaign (`dispatch campaigns show` prints the same)."""

    recipients: int
    sent: int = Field(description="Accepted by the provider (including those that bounced).")
    failed: int
    bounced: int
    complained: int
    unsubscribed: int = Field(description="Unsubscribes through this campaign's links.")
    unsubscribed_at: list[datetime] = Field(description="The newest 20, newest first.")
    tracked: bool = Field(description="Its links were tracked (the list's click_tracking).")
    clicks: int
    links: list[LinkResultOut]


class CampaignDetail(CampaignOut):
    progress: ProgressOut
    results: ResultsOut


class PreviewOut(BaseModel):
    subject: str
    preheader: str
    html: str
    text: str
    recipient: str = Field(description="The sample recipient the links are signed for.")
    warnings: list[str]


class TestIn(Strict):
    to: Email


class ScheduleIn(Strict):
    at: StoredDatetime = Field(description="When to start sending (with its UTC offset).")


class Accepted(BaseModel):
    """Sending goes on in the background: poll `status_url` for progress."""

    id: int
    status: CampaignStatus
    recipients: int
    status_url: str


class Cancelled(BaseModel):
    campaign: CampaignOut
    skipped: int = Field(description="Recipients who will not get it (now `cancelled`).")
