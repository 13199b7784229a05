"""What editors do to campaigns, and starting them: on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.campaigns import Options, control
from dispatch.campaigns.create import create_article, create_digest, plan_digest
from dispatch.campaigns.start import AlreadyStarted, start_campaign
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.errors import CampaignError
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, SubscriptionStatus
from support.campaigns import (
    FakeClock,
    add_article,
    add_subscribers,
    engine_context,
    run,
    started_article,
)

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "control-test-secret")


def draft(db: Database, settings: Settings, clock: FakeClock) -> int:
    add_article(db, "big-story")
    with db.session() as session:
        return create_article(session, settings, "big-story", LIST, clock(), Options()).campaign.id


def status(db: Database, campaign_id: int) -> Campaign:
    with db.session() as session:
        found = session.get(Campaign, campaign_id)
        assert found is not None
        return found


def test_resuming_a_sent_campaign_does_nothing(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 12)
    campaign_id = started_article(db, settings, clock)
    run(engine_context(db, settings, clock), MemorySender(), campaign_id)
    again = MemorySender()
    with db.session() as session:
        control.resume(session, campaign_id)
    done = run(engine_context(db, settings, clock), again, campaign_id)
    assert again.units == [] and done.status == "sent" and done.sent == 12


def test_a_cancelled_campaign_cannot_be_resumed_or_retried(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 3)
    campaign_id = started_article(db, settings, clock)
    with db.session() as session:
        assert control.cancel(session, campaign_id, clock()) == 3
    with (
        pytest.raises(CampaignError, match="cancelled: it cannot be resumed"),
        db.session() as session,
    ):
        control.resume(session, campaign_id)
    with (
        pytest.raises(CampaignError, match="cancelled: it cannot be re-sent"),
        db.session() as session,
    ):
        control.retry_failed(session, campaign_id, clock())


def test_an_editor_pause_of_an_outage_pause_ends_the_automatic_resume(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 3)
    campaign_id = started_article(db, settings, clock)
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status, campaign.pause_reason = CampaignStatus.PAUSED, "unreachable"
        campaign.auto_resume_at = clock() + timedelta(seconds=30)
    with db.session() as session:
        control.pause(session, campaign_id)
    paused = status(db, campaign_id)
    assert paused.auto_resume_at is None and paused.pause_reason == control.PAUSED_BY_EDITOR
    clock.now += timedelta(hours=1)
    with db.session() as session:
        assert not control.resume_automatically(session, campaign_id, clock())
    assert status(db, campaign_id).status == CampaignStatus.PAUSED


def test_starting_twice_at_once_starts_once(db: Database, settings: Settings) -> None:
    """A double click on "Send now", or two API calls: one start, the other told so."""
    clock = FakeClock()
    add_subscribers(db, LIST, 40)
    campaign_id = draft(db, settings, clock)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        try:
            with db.session() as session:
                campaign = session.get(Campaign, campaign_id)
                start_campaign(session, campaign, settings, clock())  # type: ignore[arg-type]
            outcomes.append("started")
        except AlreadyStarted:
            outcomes.append("already")

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "started"]
    with db.session() as session:
        rows = session.scalars(select(Delivery.id).where(Delivery.campaign_id == campaign_id))
        assert len(rows.all()) == 40


def test_a_paused_campaign_is_not_started_again(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 3)
    campaign_id = started_article(db, settings, clock)
    with db.session() as session:
        control.pause(session, campaign_id)
    with pytest.raises(CampaignError, match="paused: resume it"), db.session() as session:
        start_campaign(session, session.get(Campaign, campaign_id), settings, clock())  # type: ignore[arg-type]


def test_a_list_with_nobody_to_send_to_is_refused(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 4, status=SubscriptionStatus.PENDING)
    campaign_id = draft(db, settings, clock)
    with (
        pytest.raises(CampaignError, match=r"nobody on list \"morning-briefing\".*4 still pend"),
        db.session() as session,
    ):
        start_campaign(session, session.get(Campaign, campaign_id), settings, clock())  # type: ignore[arg-type]
    assert status(db, campaign_id).status == CampaignStatus.DRAFT  # nothing changed
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert start_campaign(session, campaign, settings, clock(), allow_empty=True) == 0  # type: ignore[arg-type]
    done = run(engine_context(db, settings, clock), MemorySender(), campaign_id)
    assert done.status == "sent" and done.total == 0


def test_a_digest_that_reached_nobody_keeps_the_window(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_article(db, "first-story", section="world", published_at=clock() - timedelta(hours=1))
    with db.session() as session:
        plan = plan_digest(session, settings, LIST, clock())
        created = create_digest(session, settings, plan, Options())
        assert created is not None
        start_campaign(session, created.campaign, settings, clock(), allow_empty=True)
    run(engine_context(db, settings, clock), MemorySender(), created.campaign.id)
    clock.now += timedelta(hours=2)
    with db.session() as session:
        again = plan_digest(session, settings, LIST, clock())
    assert [a.slug for a in again.articles] == ["first-story"]  # still owed to the readers
