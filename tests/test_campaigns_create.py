from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from dispatch.campaigns import Options, create_article, create_digest, create_note, plan_digest
from dispatch.campaigns.lifecycle import move
from dispatch.campaigns.snapshot import thaw
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.base import Envelope
from dispatch.errors import CampaignError, NotFound
from dispatch.render.prepared import Recipient
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery
from support.campaigns import FakeClock, add_article, add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "campaign-test-secret")


def test_lifecycle_allows_only_legal_moves(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_article(db, "a-story")
    with db.session() as session:
        campaign = create_article(session, settings, "a-story", LIST, clock()).campaign
        assert campaign.status == CampaignStatus.DRAFT
        with pytest.raises(CampaignError, match="is draft: it cannot become sent"):
            move(campaign, CampaignStatus.SENT)
        with pytest.raises(CampaignError, match="cannot become paused"):
            move(campaign, CampaignStatus.PAUSED)
        for status in ("scheduled", "sending", "paused", "sending", "sent"):
            move(campaign, CampaignStatus(status))
        with pytest.raises(
            CampaignError, match=r"sent: it cannot become sending .*nothing \(final\)"
        ):
            move(campaign, CampaignStatus.SENDING)


def test_digest_with_nothing_new_creates_no_campaign(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_article(db, "old-news", published_at=clock() - timedelta(days=30))
    add_article(db, "culture-piece", section="culture")  # not a section of the list
    with db.session() as session:
        plan = plan_digest(session, settings, LIST, clock())
        assert plan.articles == []
        assert create_digest(session, settings, plan) is None
        assert session.scalar(select(Campaign)) is None


def test_digest_carries_articles_since_the_previous_digest(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 2)
    add_article(db, "first", published_at=clock() - timedelta(hours=2))
    with db.session() as session:
        created = create_digest(session, settings, plan_digest(session, settings, LIST, clock()))
        assert created is not None
        first = created.campaign
        assert first.subject == "Morning Briefing: First"
        start_campaign(session, first, settings, clock())
    clock.sleep(3600)
    add_article(db, "second", published_at=clock() - timedelta(minutes=1))
    with db.session() as session:
        plan = plan_digest(session, settings, LIST, clock())
        assert [a.slug for a in plan.articles] == ["second"]
        assert plan.since == first.created_at
        test = create_digest(session, settings, plan, Options(test_to="ed@dispatch.example"))
        assert test is not None and test.campaign.subject.startswith("[TEST] ")
        # a test digest is not "the previous digest": the next plan still has "second"
        assert [a.slug for a in plan_digest(session, settings, LIST, clock()).articles] == [
            "second"
        ]


def test_scheduling_refuses_the_past(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_article(db, "a-story")
    with db.session() as session:
        with pytest.raises(CampaignError, match="in the past"):
            create_article(
                session,
                settings,
                "a-story",
                LIST,
                clock(),
                Options(at=clock() - timedelta(minutes=1)),
            )
        later = clock() + timedelta(hours=3)
        campaign = create_article(
            session, settings, "a-story", LIST, clock(), Options(at=later)
        ).campaign
        assert campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_at == later
    with db.session() as session, pytest.raises(NotFound, match="no article"):
        create_article(session, settings, "missing", LIST, clock())


def test_note_is_rendered_from_markdown_and_sanitised(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 2)
    body = "# Hello\n\nWe have **news**. <script>alert(1)</script>[a link](https://x.example/)\n"
    with db.session() as session:
        campaign = create_note(session, settings, LIST, "A word\r\nfrom us", body, clock()).campaign
        assert campaign.subject == "A word from us"
        start_campaign(session, campaign, settings, clock())
        message = thaw(campaign.snapshot, campaign.id)
    envelope = Envelope(
        1, campaign.id, Recipient("sam@example.com", unsubscribe_url="https://u/x"), "<a@b>"
    )
    parsed = message_from_bytes(message.as_bytes(envelope), policy=default)
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>news</strong>" in html and 'href="https://x.example/"' in html
    assert "<script" not in html and "alert(1)" not in html
    assert parsed["Subject"] == "A word from us"


def test_snapshot_thaws_to_the_same_bytes(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_article(db, "a-story", body="<p>Hello <em>reader</em></p>")
    add_subscribers(db, LIST, 3)
    with db.session() as session:
        campaign = create_article(session, settings, "a-story", LIST, clock()).campaign
        total = start_campaign(session, campaign, settings, clock())
        assert total == 3 and campaign.started_at == clock()
        assert session.scalar(select(Delivery.email).order_by(Delivery.id)) == "user0@example.com"
        first, second = thaw(campaign.snapshot, campaign.id), thaw(campaign.snapshot, campaign.id)
    recipient = Recipient("sam@example.com", "Sam", {"city": "Porto"}, "https://u/1", "https://p/1")
    envelope = Envelope(7, campaign.id, recipient, "<k.7@dispatch.example>")
    assert first.as_bytes(envelope) == second.as_bytes(envelope)  # boundary included
    assert b"Hello <em>reader</em>" in first.as_bytes(envelope)
    with pytest.raises(CampaignError, match="no usable message snapshot"):
        thaw(None, 5)
