"""What a campaign would look like in a subscriber's inbox, for the admin's previews.

The message is rendered by the campaign code (`render_campaign`, the digest renderer)
and filled for the sample recipient exactly as `dispatch preview` fills it
(`render.preview.sample_email`); the page shows its HTML part in sandboxed frames at
600 and 375 px and its text part as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from dispatch.campaigns.content import CampaignRenderer, render_campaign
from dispatch.campaigns.create import plan_digest
from dispatch.config import Settings
from dispatch.errors import DispatchError
from dispatch.render.preview import sample_email
from dispatch.store.models import Campaign

WIDTHS = (("Desktop", 600), ("Phone", 375))


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    html: str
    text: str
    headers: list[tuple[str, str]]
    warnings: tuple[str, ...]


def campaign_preview(
    session: Session, settings: Settings, campaign: Campaign, now: datetime
) -> EmailPreview:
    prepared = render_campaign(CampaignRenderer(settings), session, campaign, now)
    sample = sample_email(prepared, settings, settings.list(campaign.mailing_list.slug))
    return EmailPreview(
        prepared.subject, sample.html, sample.text, shown_headers(sample.message), prepared.warnings
    )


@dataclass(frozen=True)
class DigestPreview:
    list_slug: str
    list_name: str
    since: datetime
    articles: int
    preview: EmailPreview | None  # None: nothing new, no digest would go out
    error: str | None = None
    left_out: tuple[str, ...] = ()  # titles the list got as one-offs


def digest_previews(session: Session, settings: Settings, now: datetime) -> list[DigestPreview]:
    """For each list: the digest its schedule would send if it fired now."""
    return [_digest(session, settings, item.slug, item.name, now) for item in settings.lists]


def _digest(
    session: Session, settings: Settings, slug: str, name: str, now: datetime
) -> DigestPreview:
    plan = plan_digest(session, settings, slug, now)
    left_out = tuple(article.title for article in plan.left_out)
    if not plan.articles:
        return DigestPreview(slug, name, plan.since, 0, None, left_out=left_out)
    try:
        renderer = CampaignRenderer(settings)
        prepared = renderer.digest(slug, plan.articles, "preview", issue_date=now)
        sample = sample_email(prepared, settings, settings.list(slug))
    except DispatchError as exc:
        return DigestPreview(slug, name, plan.since, len(plan.articles), None, str(exc), left_out)
    found = EmailPreview(
        prepared.subject, sample.html, sample.text, shown_headers(sample.message), prepared.warnings
    )
    return DigestPreview(slug, name, plan.since, len(plan.articles), found, left_out=left_out)


SHOWN = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Id")
SHOWN += ("List-Unsubscribe", "List-Unsubscribe-Post")


def shown_headers(message: EmailMessage) -> list[tuple[str, str]]:
    """The headers a person checks, in a fixed order, as decoded text."""
    return [(name, str(message[name])) for name in SHOWN if message[name] is not None]
