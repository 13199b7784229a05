"""Counting a click on a tracked link and finding where it leads.

A click token (`Tokens.click`) names a campaign and a link position; the URL comes from
`campaign_links` only, never from the request, so a forged or altered token finds
nothing (no open redirect). Every click adds one to the link's count in the same UPDATE
that reads nothing back; a token that names its reader (per-person tracking, still on
for the campaign's list) adds one `link_clicks` row per person and link, the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.store.models import Campaign, CampaignLink, LinkClick, MailingList, Subscriber
from dispatch.subscribers.optin import current_id
from dispatch.tokens import ClickClaim


@dataclass(frozen=True)
class Link:
    id: int
    url: str
    list_slug: str


def find_link(session: Session, claim: ClickClaim) -> Link | None:
    """The link a click token names (a read: it waits for no writer), or None."""
    found = session.execute(
        select(CampaignLink.id, CampaignLink.url, MailingList.slug)
        .join(Campaign, Campaign.id == CampaignLink.campaign_id)
        .join(MailingList, MailingList.id == Campaign.list_id)
        .where(CampaignLink.campaign_id == claim.campaign_id)
        .where(CampaignLink.position == claim.position)
    ).first()
    if found is None or urlsplit(found.url).scheme not in ("http", "https"):
        return None
    return Link(found.id, str(found.url), found.slug)


def count_click(
    session: Session, settings: Settings, claim: ClickClaim, link: Link, now: datetime
) -> None:
    """One more click on `link`; the reader's first one when per-person tracking is on."""
    session.execute(
        update(CampaignLink)
        .where(CampaignLink.id == link.id)
        .values(clicks=CampaignLink.clicks + 1)
        .execution_options(synchronize_session=False)
    )
    if claim.subscriber_id is not None and _per_person(settings, link.list_slug):
        _first_click(session, link.id, current_id(session, claim.subscriber_id), now)


def _per_person(settings: Settings, list_slug: str) -> bool:
    item = next((x for x in settings.lists if x.slug == list_slug), None)
    return item is not None and item.click_tracking_per_person


def _first_click(session: Session, link_id: int, subscriber_id: int, now: datetime) -> None:
    if session.get(Subscriber, subscriber_id) is None:
        return  # erased since: the click counts, the person is not kept
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(LinkClick).values(
        link_id=link_id, subscriber_id=subscriber_id, clicked_at=now
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["link_id", "subscriber_id"]))
