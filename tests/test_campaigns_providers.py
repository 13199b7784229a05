"""The engine against real providers misbehaving, on SQLite and PostgreSQL: a real SMTP
server (aiosmtpd) and the loopback SendGrid stand-in. Each fault touches the recipients
it concerns, and the ledger says what really happened."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dispatch.campaigns import control
from dispatch.campaigns.outcomes import RetryPolicy
from dispatch.config import Settings
from dispatch.delivery.sendgrid import SendgridSender
from dispatch.delivery.smtp import SmtpSender
from dispatch.delivery.smtp_pool import SmtpServerConfig
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Suppression
from dispatch.store.types import utcnow
from support.campaigns import (
    add_subscribers,
    engine_context,
    ledger,
    progress,
    run,
    started_article,
)
from support.sendgrid_server import Reply, SendgridServer
from support.smtp_server import SmtpServer

LIST = "morning-briefing"


class Clock:
    """The real clock, with real sleeps: these waits are a second or two."""

    def __call__(self):  # type: ignore[no-untyped-def]
        return utcnow()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "providers-secret")


def smtp(server: SmtpServer, timeout: float = 5.0) -> SmtpSender:
    config = SmtpServerConfig(port=server.port, security="none", timeout=timeout)
    return SmtpSender(config, pool_size=2)


def quick(db: Database, settings: Settings, **options: object):  # type: ignore[no-untyped-def]
    """Retries and automatic resumes in tenths of a second, on the real clock."""
    values = {
        "policy": RetryPolicy(5, 0.2),
        "auto_resume_first": timedelta(seconds=0.3),
        "max_consecutive_errors": 3,
        "batch_size": 20,
        **options,
    }
    return engine_context(db, settings, Clock(), **values)  # type: ignore[arg-type]


def test_greylisting_everybody_delays_but_neither_fails_nor_pauses(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 30)
    campaign_id = started_article(db, settings, Clock())
    with SmtpServer() as server:
        server.greylist()  # 451 to each address's first try
        sender = smtp(server)
        done = run(quick(db, settings), sender, campaign_id, wait=True)
        sender.close()
    assert done.status == "sent" and done.sent == 30 and done.failed == 0
    assert server.handler.recipients() == Counter(people)
    assert {row.attempts for row in ledger(db, campaign_id).values()} == {2}


def test_an_smtp_outage_pauses_and_resumes_by_itself(db: Database, settings: Settings) -> None:
    people = add_subscribers(db, LIST, 40)
    campaign_id = started_article(db, settings, Clock())
    with SmtpServer() as server:
        sender = smtp(server, timeout=2.0)
        context = quick(db, settings)
        engine = context.engine(sender)
        engine.step(campaign_id)  # the first 20 go out
        back = server.outage(1.5)
        paused = engine.step(campaign_id)  # refused: the server is down
        state = progress(db, campaign_id)
        assert state.status == "paused" and state.auto_resume_at is not None
        assert "cannot connect to SMTP server" in (state.pause_reason or "")
        assert (state.sent, state.failed, state.pending) == (20, 0, 20)
        assert paused.reason and "cannot connect" in paused.reason
        back.join()
        done = run(context, sender, campaign_id, wait=True)  # waits, resumes, finishes
        sender.close()
    assert done.status == "sent" and done.sent == 40 and done.in_doubt == 0
    assert server.handler.recipients() == Counter(people)


def test_a_message_left_unanswered_is_sent_again_and_counted_in_doubt(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 10)
    campaign_id = started_article(db, settings, Clock())
    with SmtpServer() as server:
        server.stall(people[3], seconds=3.0)  # queued, then no reply in time
        server.drop_after_data(people[6])  # queued, then the connection dropped
        sender = smtp(server, timeout=1.0)
        done = run(quick(db, settings), sender, campaign_id, wait=True)
        sender.close()
    received = server.handler.recipients()
    assert done.status == "sent" and done.sent == 10
    assert done.in_doubt == 2 == sum(received.values()) - 10  # exactly the duplicates
    assert received[people[3]] == received[people[6]] == 2
    rows = ledger(db, campaign_id)
    assert rows[people[3]].doubts == rows[people[6]].doubts == 1


def test_one_odd_address_fails_alone_and_international_ones_go_out(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 12)
    odd = {people[2]: "idn@exämple.com", people[5]: "josé@example.com"}
    with db.session() as session:
        for old, new in odd.items():
            session.execute(update(Subscriber).where(Subscriber.email == old).values(email=new))
    campaign_id = started_article(db, settings, Clock())
    with SmtpServer(enable_SMTPUTF8=False) as server:
        sender = smtp(server)
        done = run(quick(db, settings), sender, campaign_id)
        sender.close()
    rows = ledger(db, campaign_id)
    assert done.status == "sent" and done.sent == 11 and done.failed == 1
    assert "does not offer SMTPUTF8" in (rows["josé@example.com"].last_error or "")
    assert "idn@xn--exmple-cua.com" in server.handler.recipients()  # the A-label form
    assert rows["idn@exämple.com"].status == "sent"


def test_a_mailbox_that_does_not_exist_is_suppressed(db: Database, settings: Settings) -> None:
    people = add_subscribers(db, LIST, 5)
    campaign_id = started_article(db, settings, Clock())
    with SmtpServer() as server:
        server.fail(people[1], "550 5.1.1 No such user here")
        sender = smtp(server)
        done = run(quick(db, settings), sender, campaign_id)
        sender.close()
    assert done.failed == 1 and done.suppressed == 1
    with db.session() as session:
        assert session.get(Suppression, people[1]) is not None


def test_sendgrid_fills_its_requests_to_the_limit(db: Database, settings: Settings) -> None:
    add_subscribers(db, LIST, 2_500)
    campaign_id = started_article(db, settings, Clock())
    with SendgridServer() as server:
        sender = SendgridSender("SG.key", host=server.url)
        done = run(engine_context(db, settings, Clock()), sender, campaign_id)
    sizes = [len(r.json()["personalizations"]) for r in server.requests]
    assert done.status == "sent" and done.sent == 2_500
    assert sizes == [1000, 1000, 500]  # 3 requests, not 25


def test_sendgrid_refusing_the_sender_identity_pauses_and_blames_nobody(
    db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, LIST, 150)
    campaign_id = started_article(db, settings, Clock())
    refusal = {
        "errors": [
            {
                "message": "The from address does not match a verified Sender Identity.",
                "field": "from",
            }
        ]
    }
    with SendgridServer() as server:
        server.script(Reply(400, body=json.dumps(refusal).encode()))
        sender = SendgridSender("SG.key", host=server.url, sleep=lambda s: None)
        paused = run(engine_context(db, settings, Clock(), batch_size=100), sender, campaign_id)
        assert paused.status == "paused" and paused.auto_resume_at is None
        assert "verified Sender Identity" in (paused.pause_reason or "")
        assert (paused.sent, paused.failed, paused.pending) == (0, 0, 150)
        with db.session() as session:  # the editor fixed the identity, and resumes
            control.resume(session, campaign_id)
        done = run(engine_context(db, settings, Clock(), batch_size=100), sender, campaign_id)
        delivered = Counter(
            p["to"][0]["email"] for r in server.requests[1:] for p in r.json()["personalizations"]
        )
    assert done.status == "sent" and done.sent == 150 and done.failed == 0
    assert delivered == Counter(people)


def test_sendgrid_refusing_one_address_fails_only_that_one(
    db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 10)
    campaign_id = started_article(db, settings, Clock())
    bad = {"errors": [{"message": "Invalid email", "field": "personalizations.4.to.0.email"}]}
    with SendgridServer() as server:
        server.script(Reply(400, body=json.dumps(bad).encode()))
        sender = SendgridSender("SG.key", host=server.url, sleep=lambda s: None)
        done = run(engine_context(db, settings, Clock()), sender, campaign_id)
    rows = sorted(ledger(db, campaign_id).values(), key=lambda row: row.id)
    assert done.status == "sent" and done.sent == 9 and done.failed == 1
    assert rows[4].status == "failed" and "Invalid email" in (rows[4].last_error or "")


def test_sendgrid_that_never_answers_is_counted_in_doubt(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    add_subscribers(db, LIST, 5)
    campaign_id = started_article(db, settings, Clock())
    with SendgridServer() as server:
        server.script(Reply(202, delay=3.0))  # queued, but the answer comes too late
        sender = SendgridSender("SG.key", host=server.url, timeout=1.0, sleep=lambda s: None)
        done = run(quick(db, settings), sender, campaign_id, wait=True)
    assert done.status == "sent" and done.sent == 5
    assert done.in_doubt == 5  # the five of the unanswered request, sent again
    assert len(server.requests) == 2
