"""Claimed ledger rows → `Envelope`s: signed links and a stable Message-ID per delivery."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dispatch.bounces.verp import Verp
from dispatch.campaigns.claims import Claimed
from dispatch.config import Settings
from dispatch.delivery.base import Envelope
from dispatch.delivery.message import message_id
from dispatch.render.recipients import signed_recipient
from dispatch.tokens import Tokens
from dispatch.urls import Urls

# A test send has no subscriber: its links carry id 0, which never verifies.
NO_SUBSCRIBER, NO_KEY = 0, "test-send"


@dataclass(frozen=True)
class RecipientLinks:
    """What signing a recipient's unsubscribe and preferences links takes."""

    tokens: Tokens
    urls: Urls
    verp: Verp | None = None  # signed return paths, when [bounces] domain is set

    @classmethod
    def from_settings(cls, settings: Settings) -> RecipientLinks:
        verp = Verp.from_settings(settings)
        return cls(Tokens(settings.secret_key), Urls(settings.site.base_url), verp)


@dataclass(frozen=True)
class EnvelopeMaker:
    """Builds the envelopes of one campaign."""

    links: RecipientLinks
    campaign_id: int
    campaign_key: str
    list_slug: str
    domain: str  # of the From address: the right-hand side of every Message-ID

    def make(self, rows: Sequence[Claimed]) -> list[Envelope]:
        return [self.one(row) for row in rows]

    def one(self, row: Claimed) -> Envelope:
        subscriber_id = row.subscriber_id or NO_SUBSCRIBER
        recipient = signed_recipient(
            subscriber_id=subscriber_id,
            token_key=row.token_key or NO_KEY,
            email=row.email,
            name=row.name,
            attributes=row.attributes,
            list_slug=self.list_slug,
            tokens=self.links.tokens,
            urls=self.links.urls,
            campaign_id=self.campaign_id,
            click_url=self._clicks(subscriber_id),
        )
        mid = message_id(self.campaign_key, row.id, self.domain)
        verp = self.links.verp
        return_path = verp.address(self.campaign_id, row.id) if verp is not None else None
        return Envelope(row.id, self.campaign_id, recipient, mid, return_path)

    def _clicks(self, subscriber_id: int) -> Callable[[int], str]:
        """Tracked links naming this reader (used only where the snapshot has such slots;
        a test send's links name nobody)."""
        tokens, urls, campaign_id = self.links.tokens, self.links.urls, self.campaign_id
        return lambda n: urls.click(tokens.click(campaign_id, n, subscriber_id or None))
