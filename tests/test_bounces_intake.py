"""Recording bounce and complaint mail: VERP and ledger matching, the policy (hard,
soft after a limit, complaints), and bad input that must change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.bounces.intake import BounceIntake
from dispatch.bounces.verp import Verp
from dispatch.config import Settings
from dispatch.events import BounceRules
from dispatch.store.database import Database
from dispatch.store.models import (
    Delivery,
    DeliveryStatus,
    Event,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from support.bounces import BOUNCE_LINES, DOMAIN, SentCampaign, sample, send_campaign

SECRET = "bounce-test-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return config.load(write_config(tmp_path, database_url, BOUNCE_LINES))


@pytest.fixture
def sent(db: Database, settings: Settings) -> SentCampaign:
    return send_campaign(db, settings, people=3)


def intake(db: Database, settings: Settings, clock: datetime | None = None) -> BounceIntake:
    when = clock or datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    return BounceIntake(db, Verp.from_settings(settings), BounceRules(3, 30), lambda: when)


def deliveries(db: Database) -> dict[str, Delivery]:
    with db.session() as session:
        return {row.email: row for row in session.scalars(select(Delivery))}


def suppressed(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {row.email: row.reason for row in session.scalars(select(Suppression))}


def events(db: Database) -> list[Event]:
    with db.session() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def test_campaign_mail_leaves_with_a_verp_return_path(sent: SentCampaign) -> None:
    for item in sent.sent.values():
        path = item.envelope.return_path
        assert path is not None and path.endswith(f"@{DOMAIN}")
        assert path.startswith(f"bounces+{sent.campaign_id}.{item.envelope.delivery_id}.")


@pytest.mark.parametrize(
    "name",
    [
        "gmail-hard.eml",
        "outlook-hard.eml",
        "yahoo-hard.eml",
        "exim-hard.eml",
        "postfix-hard.eml",
        "qmail-hard.eml",
    ],
)
def test_a_hard_bounce_suppresses_and_marks_the_delivery(
    db: Database, settings: Settings, sent: SentCampaign, name: str
) -> None:
    victim = sorted(sent.sent)[0]
    handled = intake(db, settings).handle(sample(name, sent.sent[victim]))
    assert handled.stored == 1 and handled.verp is not None
    rows = deliveries(db)
    assert rows[victim].status is DeliveryStatus.BOUNCED
    assert rows[victim].last_error
    assert {e for e, r in rows.items() if r.status is DeliveryStatus.SENT} == set(sent.sent) - {
        victim
    }
    assert suppressed(db) == {victim: "hard"}
    (stored,) = events(db)
    assert (stored.type, stored.email, stored.campaign_id) == ("bounced", victim, sent.campaign_id)
    assert stored.subscriber_id is not None and stored.detail and stored.occurred_at


def test_the_verp_names_the_delivery_whatever_address_the_report_shows(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    """Mail forwarded to another mailbox bounced there: our subscriber is the bad address."""
    victim = sorted(sent.sent)[1]
    data = sample("postfix-hard.eml", sent.sent[victim], recipient="forwarded@elsewhere.example")
    intake(db, settings).handle(data)
    assert suppressed(db) == {victim: "hard"}


def test_soft_bounces_suppress_only_after_the_limit(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    day = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    for number in range(3):
        data = sample("gmail-mailbox-full.eml", sent.sent[victim])
        data = data.replace(b"0002.GMR", f"{number}.GMR".encode())  # three distinct reports
        intake(db, settings, day + timedelta(days=number)).handle(data)
        assert deliveries(db)[victim].status is DeliveryStatus.BOUNCED
        assert suppressed(db) == ({victim: "soft-bounces"} if number == 2 else {})
    assert [e.type for e in events(db)] == ["soft_bounced"] * 3


def test_old_soft_bounces_do_not_count(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    for number, when in enumerate(
        [
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 6, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        ]
    ):
        data = sample("gmail-mailbox-full.eml", sent.sent[victim])
        data = data.replace(b"0002.GMR", f"{number}.GMR".encode())
        data = data.replace(
            b"Date: Tue, 01 Dec 2026 07:01:12 -0800 (PST)",
            when.strftime("Date: %a, %d %b %Y %H:%M:%S +0000").encode(),
        )
        intake(db, settings, when).handle(data)
    assert suppressed(db) == {}


def test_a_delayed_notice_is_recorded_and_changes_nothing(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    intake(db, settings).handle(sample("postfix-delayed.eml", sent.sent[victim]))
    assert [e.type for e in events(db)] == ["deferred"]
    assert deliveries(db)[victim].status is DeliveryStatus.SENT and suppressed(db) == {}


def test_a_complaint_unsubscribes_and_suppresses(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[2]
    intake(db, settings).handle(sample("arf-complaint.eml", sent.sent[victim]))
    assert suppressed(db) == {victim: "complaint"}
    with db.session() as session:
        statuses = {
            sub.subscriber.email: sub.status for sub in session.scalars(select(Subscription))
        }
    assert statuses[victim] is SubscriptionStatus.UNSUBSCRIBED
    assert [s for e, s in statuses.items() if e != victim] == [SubscriptionStatus.CONFIRMED] * 2
    assert [(e.type, e.email) for e in events(db)] == [("complained", victim)]


def test_a_complaint_with_the_recipient_redacted_still_matches_by_verp(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    data = sample("arf-complaint.eml", sent.sent[victim])
    data = data.replace(f"Original-Rcpt-To: <{victim}>\n".encode(), b"")
    data = data.replace(f"To: {victim}\n".encode(), b"To: redacted@mailbox.example\n")
    intake(db, settings).handle(data)
    assert suppressed(db) == {victim: "complaint"}


def test_without_verp_the_message_id_and_recipient_must_agree(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    """A forwarded bounce (the envelope is lost): matched through the ledger."""
    victim, other = sorted(sent.sent)[:2]
    item = sent.sent[victim]
    data = sample("qmail-hard.eml", item).replace(item.envelope.return_path.encode(), b"")  # type: ignore[union-attr]
    intake(db, settings).handle(data)
    assert suppressed(db) == {victim: "hard"}
    # the same Message-ID, another recipient: nothing ties it to a delivery
    data = sample("postfix-hard.eml", item, recipient=other)
    data = data.replace(item.envelope.return_path.encode(), b"someone@else.example")  # type: ignore[union-attr]
    intake(db, settings).handle(data)
    assert suppressed(db) == {victim: "hard"}
    assert [e.type for e in events(db)] == ["bounced", "unmatched"]


def test_a_forged_verp_address_changes_nothing(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    item = sent.sent[victim]
    path = item.envelope.return_path
    assert path is not None
    forged = (
        path[: -len(DOMAIN) - 5]
        + ("aaaa" if not path[: -len(DOMAIN) - 1].endswith("aaaa") else "bbbb")
        + "@"
        + DOMAIN
    )
    assert Verp.from_settings(settings).verify(forged) is None  # type: ignore[union-attr]
    data = sample("gmail-hard.eml", item).replace(path.encode(), forged.encode())
    data = data.replace(item.envelope.message_id.encode(), b"<not-ours@example.net>")
    handled = intake(db, settings).handle(data, [forged])
    assert handled.verp is None
    assert suppressed(db) == {} and deliveries(db)[victim].status is DeliveryStatus.SENT
    assert [e.type for e in events(db)] == ["unmatched"]


def test_a_verp_from_another_secret_is_forged(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    other = Verp("another-secret", DOMAIN).address(
        sent.campaign_id, sent.sent[victim].envelope.delivery_id
    )
    assert intake(db, settings).verified([other]) is None


def test_a_report_about_an_unknown_delivery_is_unmatched(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    verp = Verp.from_settings(settings)
    assert verp is not None
    ghost = verp.address(sent.campaign_id, 99_999)
    data = sample("gmail-hard.eml").replace(
        b"bounces+1.1.aaaaaaaaaaaaaaaa@bounces.dispatch.example", ghost.encode()
    )
    handled = intake(db, settings).handle(data, [ghost])
    assert handled.verp is not None and handled.stored == 1
    assert suppressed(db) == {}
    (stored,) = events(db)
    assert (stored.type, stored.delivery_id, stored.campaign_id) == ("unmatched", None, None)


@pytest.mark.parametrize(
    "name",
    ["vacation.eml", "challenge.eml", "human-reply.eml", "truncated-dsn.eml", "not-mime.eml"],
)
def test_what_is_not_a_bounce_records_nothing(
    db: Database, settings: Settings, sent: SentCampaign, name: str
) -> None:
    victim = sorted(sent.sent)[0]
    data = (
        sample(name, sent.sent[victim])
        if name in ("vacation.eml", "challenge.eml", "human-reply.eml")
        else sample(name)
    )
    handled = intake(db, settings).handle(data)
    assert handled.stored == 0 and events(db) == [] and suppressed(db) == {}


def test_the_same_report_twice_is_recorded_once(
    db: Database, settings: Settings, sent: SentCampaign
) -> None:
    victim = sorted(sent.sent)[0]
    data = sample("outlook-hard.eml", sent.sent[victim])
    assert intake(db, settings).handle(data).stored == 1
    assert intake(db, settings).handle(data).stored == 0
    assert len(events(db)) == 1
