"""The public archive: sent campaigns per list and each one's web version.

Only campaigns that were sent to a list are public: status `sent` and not a test send
(`test_to` unset). The web version is the campaign's frozen snapshot (the exact
message its recipients got) filled for a neutral reader, so nothing personal or
signed reaches the public copy:

- the greeting and name say "reader", the address "your address", attributes nothing;
- unsubscribe, preferences and confirmation links point to the public `/subscribe`
  page instead of carrying a signed token;
- as a last guard, any `/unsubscribe/…`, `/preferences/…` or `/confirm/…` URL still
  in the text is replaced by the subscribe page too.

`WebCopy` takes the email document apart (its styles, its body) for the
`archive_campaign` page to show inside the site's layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from dispatch.campaigns.snapshot import thaw
from dispatch.errors import CampaignError
from dispatch.render.prepared import Recipient
from dispatch.store.models import Campaign, CampaignKind, CampaignLink, CampaignStatus, MailingList
from dispatch.urls import Urls

READER = Recipient(email="your address", name="reader")
HEAD = re.compile(r"<head[^>]*>(.*?)</head>", re.S | re.I)
BODY = re.compile(r"<body([^>]*)>(.*)</body>", re.S | re.I)
OUTLOOK_ONLY = re.compile(r"<!--\[if .*?<!\[endif\]-->", re.S | re.I)
STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.S | re.I)
STYLE_ATTRIBUTE = re.compile(r'\bstyle="([^"]*)"', re.I)


@dataclass(frozen=True)
class WebCopy:
    subject: str
    preheader: str
    sent_at: datetime | None
    styles: str  # the email's <style> elements (Outlook-only ones left out)
    body_style: str  # the email <body>'s inline style, for the element that replaces it
    body: str  # inner HTML of the email's <body>


def public_campaigns(session: Session, list_id: int) -> list[Campaign]:
    """A list's sent, non-test campaigns, newest first."""
    query = (
        select(Campaign)
        .where(
            Campaign.list_id == list_id,
            Campaign.status == CampaignStatus.SENT,
            Campaign.test_to.is_(None),
            Campaign.kind != CampaignKind.WELCOME,  # one per sign-up: not an issue of the list
        )
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
    )
    return list(session.scalars(query))


def campaign_counts(session: Session) -> dict[int, int]:
    """Number of public campaigns per list id."""
    query = (
        select(Campaign.list_id, func.count())
        .where(
            Campaign.status == CampaignStatus.SENT,
            Campaign.test_to.is_(None),
            Campaign.kind != CampaignKind.WELCOME,
        )
        .group_by(Campaign.list_id)
    )
    return {list_id: count for list_id, count in session.execute(query)}


def find_list(session: Session, slug: str) -> MailingList | None:
    return session.scalar(select(MailingList).where(MailingList.slug == slug))


def find_campaign(session: Session, mailing_list: MailingList, key: str) -> Campaign | None:
    """The public campaign of this list with this key; None for tests, drafts, unknowns."""
    campaign = session.scalar(
        select(Campaign).where(Campaign.key == key, Campaign.list_id == mailing_list.id)
    )
    if campaign is None or campaign.status != CampaignStatus.SENT or campaign.test_to:
        return None
    return campaign


def public_copy(urls: Urls, campaign: Campaign) -> WebCopy | None:
    """The campaign's web version for any reader; None when it has no usable snapshot."""
    try:
        message = thaw(campaign.snapshot, campaign.id)
    except (CampaignError, KeyError, TypeError, ValueError):
        return None
    subscribe = f"{urls.base_url}/subscribe?list={campaign.mailing_list.slug}"
    direct = _tracked_links(campaign)
    reader = Recipient(
        email=READER.email,
        name=READER.name,
        unsubscribe_url=subscribe,
        preferences_url=subscribe,
        confirm_url=subscribe,
        click_url=lambda n: direct.get(n, urls.home()),  # per-person links: the web copy
        # names nobody, so they lead straight to their page
    )
    html, _text = message.prepared.fill(reader)
    html = strip_signed_links(html, urls, subscribe)
    head, body = HEAD.search(html), BODY.search(html)
    if head is None or body is None:
        return None
    return WebCopy(
        subject=message.prepared.subject,
        preheader=message.prepared.preheader,
        sent_at=campaign.started_at,
        styles="\n".join(STYLE_ELEMENT.findall(OUTLOOK_ONLY.sub("", head.group(1)))),
        body_style=style.group(1) if (style := STYLE_ATTRIBUTE.search(body.group(1))) else "",
        body=body.group(2),
    )


def _tracked_links(campaign: Campaign) -> dict[int, str]:
    session = object_session(campaign)
    if session is None:
        return {}
    rows = session.execute(
        select(CampaignLink.position, CampaignLink.url).where(
            CampaignLink.campaign_id == campaign.id
        )
    )
    return {position: url for position, url in rows}


def strip_signed_links(html: str, urls: Urls, replacement: str) -> str:
    """Replace every tokenised unsubscribe/preferences/confirm URL with `replacement`."""
    base = re.escape(urls.base_url)
    pattern = re.compile(f"{base}/(?:unsubscribe|preferences|confirm)/[^\"'<>\\s]*")
    return pattern.sub(replacement.replace("\\", "\\\\"), html)
