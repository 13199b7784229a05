from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select, update

from dispatch.campaigns import CampaignRunner, Hooks, Options, RecipientLinks, RunOptions, control
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.base import Envelope, OutgoingMessage, SendResult
from dispatch.delivery.memory import MemorySender
from dispatch.errors import CampaignError
from dispatch.store.database import Database
from dispatch.store.models import Article, Campaign, Delivery, DeliveryStatus
from support.campaigns import FakeClock, add_article, add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "campaign-test-secret")


def started(db: Database, settings: Settings, clock: FakeClock) -> int:
    add_article(db, "big-story", title="Original title")
    with db.session() as session:
        created = create_article(session, settings, "big-story", LIST, clock(), Options())
        start_campaign(session, created.campaign, settings, clock())
        return created.campaign.id


def runner(
    db: Database, settings: Settings, sender: object, clock: FakeClock, flush_every: int = 50
) -> CampaignRunner:
    links = RecipientLinks.from_settings(settings)
    options = RunOptions(batch_size=10, flush_every=flush_every)
    return CampaignRunner(db, sender, links, options, clock, Hooks(sleep=clock.sleep))  # type: ignore[arg-type]


def statuses(db: Database, campaign_id: int) -> dict[DeliveryStatus, int]:
    with db.session() as session:
        return control.details(session, campaign_id, FakeClock()()).counts


class Meddling(MemorySender):
    """Runs `act` (in its own session, like another process) after batch `after`."""

    def __init__(self, act: object, after: int = 1) -> None:
        super().__init__(max_batch=10)
        self.act, self.after = act, after

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        yield from super().send(message, batch)
        if len(self.batches) == self.after:
            self.act()  # type: ignore[operator]


def test_pause_from_another_session_then_resume(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 50)
    campaign_id = started(db, settings, clock)

    def pause() -> None:
        with db.session() as session:
            control.pause(session, campaign_id)

    sender = Meddling(pause, after=2)
    progress = runner(db, settings, sender, clock).run(campaign_id)
    assert progress.status == "paused" and progress.pause_reason == control.PAUSED_BY_EDITOR
    assert len(sender.sent) == 20  # the pause took effect at the next batch
    assert statuses(db, campaign_id)[DeliveryStatus.PENDING] == 30

    with db.session() as session:
        article = session.scalar(select(Article))
        assert article is not None
        article.title = "Edited after the start"  # the frozen message must not change
        control.resume(session, campaign_id)
    rest = MemorySender()
    progress = runner(db, settings, rest, clock).run(campaign_id)

    assert progress.status == "sent"
    assert set(sender.recipients()) | set(rest.recipients()) == set(people)
    assert not set(sender.recipients()) & set(rest.recipients())
    assert all(b"Original title" in item.data for item in rest.sent)
    assert not any(b"Edited after" in item.data for item in rest.sent)


def test_cancel_from_another_session_keeps_what_was_sent(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 50)
    campaign_id = started(db, settings, clock)

    def cancel() -> None:
        with db.session() as session:
            assert control.cancel(session, campaign_id, clock()) == 40

    sender = Meddling(cancel)
    progress = runner(db, settings, sender, clock).run(campaign_id)
    assert progress.status == "cancelled" and len(sender.sent) == 10
    counts = statuses(db, campaign_id)
    assert counts[DeliveryStatus.SENT] == 10 and counts[DeliveryStatus.SKIPPED] == 40
    with (
        pytest.raises(CampaignError, match="cancelled: it cannot be resumed"),
        db.session() as session,
    ):
        control.resume(session, campaign_id)


def test_resuming_a_sent_campaign_does_nothing(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 12)
    campaign_id = started(db, settings, clock)
    runner(db, settings, MemorySender(), clock).run(campaign_id)
    again = MemorySender()
    with db.session() as session:
        control.resume(session, campaign_id)
    progress = runner(db, settings, again, clock).run(campaign_id)
    assert again.batches == [] and progress.status == "sent" and progress.sent == 12


def _pid_of_finished() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs in the 'process'."""


class DiesMidBatch(MemorySender):
    """Accepts `accept` messages (as the provider would), then the process dies."""

    def __init__(self, accept: int) -> None:
        super().__init__(max_batch=10)
        self.accept = accept

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        for result in super().send(message, batch):
            if self.accepted > self.accept:
                raise Killed
            yield result


def test_resume_after_a_crash_counts_in_doubt_and_skips_nobody(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 45)
    campaign_id = started(db, settings, clock)
    dying = DiesMidBatch(accept=23)
    with pytest.raises(Killed):
        runner(db, settings, dying, clock, flush_every=1).run(campaign_id)
    gone = f"{socket.gethostname()}:{_pid_of_finished()}:x"
    with db.session() as session:  # a real kill leaves its lease behind: a dead pid
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(runner=gone))

    rest = MemorySender()
    progress = runner(db, settings, rest, clock).run(campaign_id)

    received = dying.recipients() + rest.recipients()
    assert set(received) == set(people)
    duplicates = sum(received.values()) - len(people)
    assert duplicates == 1  # the message accepted in the instant before the "kill"
    assert progress.in_doubt == 10 - 3  # batch 3 was in flight; 3 of it had been recorded
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.in_doubt == progress.in_doubt
        sent = session.scalars(
            select(Delivery.email).where(Delivery.status == DeliveryStatus.SENT)
        ).all()
        assert len(sent) == 45


def test_a_live_runner_keeps_others_out(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 30)
    campaign_id = started(db, settings, clock)
    seen: list[bool] = []

    def second_runner() -> None:
        other = MemorySender()
        seen.append(runner(db, settings, other, clock).run(campaign_id).busy)
        assert other.batches == []

    runner(db, settings, Meddling(second_runner), clock).run(campaign_id)
    assert seen == [True]
    assert statuses(db, campaign_id)[DeliveryStatus.SENT] == 30
