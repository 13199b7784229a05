"""The one send engine on SQLite and PostgreSQL: claim → send → record, per recipient.

Each test drives `Engine` steps the way the inline executor does (`support.campaigns.run`)
with a `MemorySender` told to misbehave, and checks what the ledger says afterwards."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import insert, select, update

from dispatch.campaigns import Next, control
from dispatch.campaigns.claims import claim
from dispatch.campaigns.due import needing_a_runner, resume_due
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from support.campaigns import (
    FakeClock,
    add_subscribers,
    engine_context,
    ledger,
    progress,
    run,
    started_article,
)

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "engine-test-secret")


def test_every_confirmed_subscriber_gets_it_once(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 250)
    add_subscribers(db, LIST, 5, start=1000, status=SubscriptionStatus.PENDING)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender(unit=60, concurrency=3)

    done = run(engine_context(db, settings, clock, batch_size=100), sender, campaign_id)

    assert sender.recipients() == {email: 1 for email in people}
    assert max(sender.units) == 60  # the sender's unit wins over the claim size
    assert done.status == "sent" and done.sent == 250 and done.total == 250
    assert done.in_doubt == 0 and not done.running
    rows = ledger(db, campaign_id)
    assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
    assert all(row.provider_message_id and row.sent_at for row in rows.values())
    assert all(row.claimed_by is None and row.handed_at is None for row in rows.values())
    message = message_from_bytes(sender.sent[0].data, policy=default)
    assert message["Message-ID"].endswith("@dispatch.example>")
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    assert len({item.envelope.message_id for item in sender.sent}) == 250


def test_recipients_are_frozen_when_sending_starts(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 10)
    campaign_id = started_article(db, settings, clock)
    late = add_subscribers(db, LIST, 3, start=500)
    sender = MemorySender()
    run(engine_context(db, settings, clock), sender, campaign_id)
    assert len(sender.sent) == 10 and not set(late) & set(sender.recipients())


def test_people_who_leave_during_the_send_are_skipped(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 30)
    campaign_id = started_article(db, settings, clock)

    def leave(number: int) -> None:
        if number != 1:
            return
        with db.session() as session:
            who = session.scalar(select(Subscriber.id).where(Subscriber.email == people[25]))
            session.execute(
                update(Subscription)
                .where(Subscription.subscriber_id == who)
                .values(status=SubscriptionStatus.UNSUBSCRIBED)
            )
            session.add(Suppression(email=people[26], reason="complaint"))

    sender = MemorySender()
    sender.before_handover = leave
    done = run(engine_context(db, settings, clock, batch_size=10), sender, campaign_id)

    assert people[25] not in sender.recipients() and people[26] not in sender.recipients()
    rows = ledger(db, campaign_id)
    assert (rows[people[25]].status, rows[people[25]].last_error) == (
        DeliveryStatus.SKIPPED,
        "unsubscribed",
    )
    assert rows[people[26]].last_error == "suppressed"
    assert (done.sent, done.skipped, done.meant, done.status) == (28, 2, 28, "sent")


def test_greylisting_retries_on_backoff_and_does_not_pause(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 30)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    for email in people:  # every address refused once, as greylisting does
        sender.fail_temporarily(email, times=1)
    sender.fail_temporarily(people[0], times=99)
    begin = clock()
    context = engine_context(
        db, settings, clock, max_consecutive_errors=3, policy=RetryPolicy(3, 60)
    )

    first = run(context, sender, campaign_id)
    assert first.status == "sending" and first.pending == 30  # no pause: nobody failed
    assert (first.next_retry_at - begin).total_seconds() == pytest.approx(60, abs=1)

    done = run(context, sender, campaign_id, wait=True)
    rows = ledger(db, campaign_id)
    assert done.status == "sent" and done.sent == 29 and done.failed == 1
    assert rows[people[1]].attempts == 2
    assert rows[people[0]].status == DeliveryStatus.FAILED and rows[people[0]].attempts == 3
    assert "gave up after 3 attempts: 451" in (rows[people[0]].last_error or "")
    assert (clock() - begin).total_seconds() == pytest.approx(180, abs=3)  # 60 s, then 120 s


def test_permanent_refusal_fails_that_recipient_and_may_suppress(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 4)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    sender.fail(people[1], "550 5.1.1 No such user", suppress=True)
    sender.fail(people[2], "554 5.7.1 Rejected", suppress=False)
    done = run(engine_context(db, settings, clock), sender, campaign_id)
    rows = ledger(db, campaign_id)
    assert rows[people[1]].status == DeliveryStatus.FAILED and rows[people[1]].attempts == 1
    assert rows[people[1]].last_error == "550 5.1.1 No such user"
    with db.session() as session:
        assert set(session.scalars(select(Suppression.email))) == {people[1]}
    assert (done.sent, done.failed, done.status) == (2, 2, "sent")


def test_a_streak_of_refusals_pauses_after_exactly_the_limit(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 40)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    for email in people[:12]:
        sender.fail(email, "554 5.7.1 Blocked", suppress=False)
    done = run(engine_context(db, settings, clock, max_consecutive_errors=8), sender, campaign_id)
    assert done.status == "paused" and done.failed == 8 and done.pending == 32
    assert done.pause_reason is not None
    assert "8 consecutive failures" in done.pause_reason and "554 5.7.1" in done.pause_reason
    assert done.auto_resume_at is None  # someone has to look at it
    assert sender.sent == []


def test_a_message_that_cannot_be_built_fails_that_recipient_alone(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 20)
    odd = "reader@exa\N{GRINNING FACE}mple.com"  # no IDNA form: the To header cannot carry it
    with db.session() as session:
        session.execute(update(Subscriber).where(Subscriber.email == people[7]).values(email=odd))
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender(unit=5, concurrency=2)
    done = run(engine_context(db, settings, clock), sender, campaign_id)
    rows = ledger(db, campaign_id)
    assert rows[odd].status == DeliveryStatus.FAILED
    assert odd in (rows[odd].last_error or "") and "cannot be built" in (rows[odd].last_error or "")
    assert done.sent == 19 and set(sender.recipients()) == set(people) - {people[7]}
    assert all(row.last_error is None for email, row in rows.items() if email != odd)


def test_international_domains_are_sent_as_a_labels(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 3)
    with db.session() as session:
        session.execute(
            update(Subscriber).where(Subscriber.email == people[0]).values(email="idn@exämple.com")
        )
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    done = run(engine_context(db, settings, clock), sender, campaign_id)
    assert done.sent == 3
    (sent,) = [s for s in sender.sent if s.envelope.recipient.email == "idn@exämple.com"]
    assert b"To: User 0 <idn@xn--exmple-cua.com>\r\n" in sent.data


def test_an_unknown_outcome_is_sent_again_and_counted_in_doubt(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 10)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    sender.lose_answer(people[3])
    context = engine_context(db, settings, clock, policy=RetryPolicy(5, 30))
    done = run(context, sender, campaign_id, wait=True)
    assert done.status == "sent" and done.sent == 10 and done.in_doubt == 1
    assert sender.recipients()[people[3]] == 2  # the possible duplicate, and only that one
    row = ledger(db, campaign_id)[people[3]]
    assert row.doubts == 1 and row.attempts == 2


def test_provider_outage_pauses_then_resumes_by_itself(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 30)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    context = engine_context(
        db, settings, clock, auto_resume_first=timedelta(seconds=30), batch_size=10
    )

    def outage(number: int) -> None:
        if number == 11:
            sender.unavailable("cannot connect to SMTP server 127.0.0.1:25: refused", times=2)

    sender.before_handover = outage
    first = run(context, sender, campaign_id)
    assert first.status == "paused" and first.sent == 11
    assert first.pause_reason == "cannot connect to SMTP server 127.0.0.1:25: refused"
    assert first.auto_resume_at == clock() + timedelta(seconds=30)
    assert first.failed == 0 and first.pending == 19  # nobody blamed, nobody skipped
    assert all(row.attempts == 0 for row in ledger(db, campaign_id).values() if not row.sent_at)

    assert resume_due(db, clock()) == []  # not yet
    clock.now += timedelta(seconds=31)
    assert resume_due(db, clock()) == [campaign_id]
    second = run(context, sender, campaign_id)  # refused again: twice the wait
    assert second.status == "paused" and second.auto_resume_at == clock() + timedelta(seconds=60)

    done = run(context, sender, campaign_id, wait=True)  # waits for the resume, then sends
    assert done.status == "sent" and done.sent == 30 and done.in_doubt == 0
    assert sender.recipients() == {email: 1 for email in people}
    with db.session() as session:
        assert session.get(Campaign, campaign_id).auto_resumes == 0  # type: ignore[union-attr]


def test_a_refused_key_pauses_until_an_editor_resumes(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 12)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    sender.unavailable(
        "SendGrid replied 401: The provided authorization grant is invalid", temporary=False
    )
    context = engine_context(db, settings, clock)
    paused = run(context, sender, campaign_id, wait=True)
    assert paused.status == "paused" and paused.auto_resume_at is None
    assert "401" in (paused.pause_reason or "") and paused.pending == 12 and paused.failed == 0
    clock.now += timedelta(days=2)
    assert resume_due(db, clock()) == []  # never by itself
    with db.session() as session:
        control.resume(session, campaign_id)
    assert run(context, sender, campaign_id).sent == 12


def test_a_pause_stops_before_the_next_message(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 50)
    campaign_id = started_article(db, settings, clock)

    def pause(number: int) -> None:
        if number == 7:
            with db.session() as session:
                control.pause(session, campaign_id)

    sender = MemorySender(concurrency=1)
    sender.before_handover = pause
    first = run(engine_context(db, settings, clock), sender, campaign_id)
    assert first.status == "paused" and first.pause_reason == control.PAUSED_BY_EDITOR
    assert len(sender.sent) == 6  # the 7th hand-over found the campaign paused
    assert first.pending == 44 and not first.running

    with db.session() as session:
        control.resume(session, campaign_id)
    rest = MemorySender()
    done = run(engine_context(db, settings, clock), rest, campaign_id)
    assert done.status == "sent"
    assert set(sender.recipients()) | set(rest.recipients()) == set(people)
    assert not set(sender.recipients()) & set(rest.recipients())
    assert all(b"Original title" in item.data for item in rest.sent)


def test_a_cancel_keeps_what_was_sent_and_is_not_an_error(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 50)
    campaign_id = started_article(db, settings, clock)

    def cancel(number: int) -> None:
        if number == 11:
            with db.session() as session:
                assert control.cancel(session, campaign_id, clock()) == 40

    sender = MemorySender(concurrency=1)
    sender.before_handover = cancel
    done = run(engine_context(db, settings, clock, batch_size=100), sender, campaign_id)
    assert done.status == "cancelled" and len(sender.sent) == 10
    assert (done.sent, done.cancelled, done.meant, done.pending) == (10, 40, 10, 0)
    with db.session() as session:
        assert control.details(session, campaign_id, clock()).errors == []


def test_two_runners_at_once_share_a_campaign_without_duplicates(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 300)
    campaign_id = started_article(db, settings, clock)
    senders = [MemorySender(concurrency=2), MemorySender(concurrency=2)]
    threads = [
        threading.Thread(
            target=run, args=(engine_context(db, settings, clock, batch_size=20), s, campaign_id)
        )
        for s in senders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = senders[0].recipients() + senders[1].recipients()
    assert received == Counter(people) and progress(db, campaign_id).status == "sent"


def test_claims_of_a_live_runner_are_left_alone_until_they_expire(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 25)
    campaign_id = started_article(db, settings, clock)
    ttl = timedelta(minutes=5)
    with db.session() as session:  # another runner claims 10 and hands 4 over, then dies
        campaign = session.get(Campaign, campaign_id)
        held, _ = claim(session, campaign, "elsewhere:1:dead", 10, clock(), ttl)
        handed = [row.id for row in held[:4]]
        session.execute(update(Delivery).where(Delivery.id.in_(handed)).values(handed_at=clock()))
    context = engine_context(db, settings, clock, claim_ttl=ttl)
    sender = MemorySender()

    engine = context.engine(sender)
    while (step := engine.step(campaign_id)).next is Next.MORE:
        pass
    assert step.next is Next.LATER and len(sender.sent) == 15  # not the live claims
    assert needing_a_runner(db, clock()) == []  # a live runner holds the rest

    clock.now += ttl + timedelta(seconds=1)
    assert needing_a_runner(db, clock()) == [campaign_id]
    done = run(context, sender, campaign_id)
    assert done.status == "sent" and len(sender.sent) == 25
    assert done.in_doubt == 4  # exactly the rows it had handed over
    doubted = {row.id for row in ledger(db, campaign_id).values() if row.doubts}
    assert doubted == set(handed)


def test_stopping_hands_nothing_more_over_and_a_resume_carries_on(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 40)
    campaign_id = started_article(db, settings, clock)
    context = engine_context(db, settings, clock)
    sender = MemorySender(concurrency=1)
    sender.before_handover = lambda number: number == 5 and context.stop.set()
    first = run(context, sender, campaign_id)
    assert len(sender.sent) == 4 and first.status == "sending" and first.pending == 36
    assert not first.running and first.sending == 0  # its claims were given back
    rest = MemorySender()
    done = run(engine_context(db, settings, clock), rest, campaign_id)
    assert done.status == "sent" and done.in_doubt == 0
    assert sender.recipients() + rest.recipients() == Counter(people)


def test_a_test_send_goes_only_to_the_test_address(db: Database, settings: Settings) -> None:
    clock = FakeClock()
    add_subscribers(db, LIST, 20)
    campaign_id = started_article(db, settings, clock, test_to="Editor@Dispatch.example")
    sender = MemorySender()
    done = run(engine_context(db, settings, clock), sender, campaign_id)
    assert list(sender.recipients()) == ["editor@dispatch.example"]  # the normal form
    message = message_from_bytes(sender.sent[0].data, policy=default)
    assert message["Subject"].startswith("[TEST] ")
    assert [row.subscriber_id for row in ledger(db, campaign_id).values()] == [None]
    assert done.status == "sent" and done.total == 1


def test_retry_failed_sends_once_more_to_the_failed_who_are_not_suppressed(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock()
    people = add_subscribers(db, LIST, 10)
    campaign_id = started_article(db, settings, clock)
    sender = MemorySender()
    sender.fail(people[1], "550 5.7.1 Sender not verified", suppress=False)
    sender.fail(people[2], "550 5.1.1 No such user", suppress=True)
    first = run(engine_context(db, settings, clock), sender, campaign_id)
    assert first.status == "sent" and first.failed == 2

    fixed = MemorySender()
    with db.session() as session:
        assert control.retry_failed(session, campaign_id, clock()) == 1
    done = run(engine_context(db, settings, clock), fixed, campaign_id)
    assert list(fixed.recipients()) == [people[1]]
    assert done.status == "sent" and done.sent == 9 and done.failed == 1
    with db.session() as session:
        assert control.retry_failed(session, campaign_id, clock()) == 0  # the suppressed one


def test_results_for_rows_taken_over_are_not_written(db: Database, settings: Settings) -> None:
    """A runner whose claim expired and was taken over records nothing for those rows: their
    fate belongs to the new runner (the handed-over ones counted in doubt)."""
    clock = FakeClock()
    add_subscribers(db, LIST, 3)
    campaign_id = started_article(db, settings, clock)
    context = engine_context(db, settings, clock, claim_ttl=timedelta(seconds=30))

    def steal(number: int) -> None:
        if number == 2:
            with db.session() as session:
                session.execute(
                    update(Delivery)
                    .where(Delivery.campaign_id == campaign_id, Delivery.handed_at.is_(None))
                    .values(claimed_by="thief:1:x")
                )

    sender = MemorySender(concurrency=1)
    sender.before_handover = steal
    run(context, sender, campaign_id)
    rows = sorted(ledger(db, campaign_id).values(), key=lambda row: row.id)
    assert [r.status for r in rows] == [DeliveryStatus.SENT] + [DeliveryStatus.SENDING] * 2
    assert len(sender.sent) == 1  # refused at the mark: the claim was no longer its own
    assert all(r.claimed_by == "thief:1:x" for r in rows[1:])


def test_a_deleted_suppression_row_does_not_block_later_sends(
    db: Database, settings: Settings
) -> None:
    """Suppressions made by the engine are ordinary rows: an operator's un-suppress works."""
    clock = FakeClock()
    people = add_subscribers(db, LIST, 2)
    with db.session() as session:
        session.execute(insert(Suppression), [{"email": people[0], "reason": "bounce"}])
        session.query(Suppression).delete()
    campaign_id = started_article(db, settings, clock)
    assert run(engine_context(db, settings, clock), MemorySender(), campaign_id).sent == 2
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == CampaignStatus.SENT  # type: ignore[union-attr]
