"""Bounce tests' shared parts: a config with [bounces] on, a campaign sent to the memory
sender with VERP return paths, and the corpus samples filled in with its real values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender, Sent
from dispatch.executor.context import EngineContext
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from support.campaigns import add_article, add_subscribers, run

CORPUS = Path(__file__).parent.parent / "data" / "bounces"
LIST = "morning-briefing"
DOMAIN = "bounces.dispatch.example"
PLACEHOLDER_VERP = "bounces+1.1.aaaaaaaaaaaaaaaa@bounces.dispatch.example"
PLACEHOLDER_ID = "<0123456789abcdef0123456789abcdef.1@dispatch.example>"
BOUNCE_LINES = {
    r"^# domain = \"bounces.dispatch.example\".*$": f'domain = "{DOMAIN}"',
    r"^soft_limit = 3 .*$": "soft_limit = 3",
}


@dataclass(frozen=True)
class SentCampaign:
    campaign_id: int
    sent: dict[str, Sent]  # by recipient address


def send_campaign(db: Database, settings: Settings, people: int = 3) -> SentCampaign:
    """A one-off to `people` subscribers of the morning list, accepted by memory."""
    emails = add_subscribers(db, LIST, people)
    add_article(db, "harbour-vote")
    with db.session() as session:
        created = create_article(session, settings, "harbour-vote", LIST, utcnow(), Options())
        start_campaign(session, created.campaign, settings, utcnow())
        campaign_id = created.campaign.id
    sender = MemorySender()
    progress = run(EngineContext(db, settings), sender, campaign_id)
    assert progress.sent == people, progress
    by_address = {item.envelope.recipient.email: item for item in sender.sent}
    assert set(by_address) == set(emails)
    return SentCampaign(campaign_id, by_address)


def sample(name: str, sent: Sent | None = None, recipient: str | None = None) -> bytes:
    """A corpus sample; with `sent`, naming that message's VERP address and Message-ID,
    and the reported recipient replaced by `recipient` (default: the one it went to)."""
    data = (CORPUS / name).read_bytes()
    if sent is None:
        return data
    envelope = sent.envelope
    assert envelope.return_path is not None
    data = data.replace(PLACEHOLDER_VERP.encode(), envelope.return_path.encode())
    data = data.replace(PLACEHOLDER_ID.encode(), envelope.message_id.encode())
    reported = REPORTED[name]
    return data.replace(reported.encode(), (recipient or envelope.recipient.email).encode())


REPORTED = {
    "gmail-hard.eml": "nobody.here@gmail.com",
    "gmail-mailbox-full.eml": "full.mailbox@gmail.com",
    "outlook-hard.eml": "ghost.reader@outlook.com",
    "yahoo-hard.eml": "lost.soul@yahoo.com",
    "exim-hard.eml": "ghost@exim.example",
    "postfix-hard.eml": "nouser@postfix.example",
    "postfix-delayed.eml": "slow@postfix.example",
    "qmail-hard.eml": "gone@qmail.example",
    "arf-complaint.eml": "angry.reader@mailbox.example",
    "vacation.eml": "away@example.org",
    "challenge.eml": "careful@challenge.example",
    "human-reply.eml": "dana@example.com",
}
