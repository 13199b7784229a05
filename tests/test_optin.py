"""Opt-in rules in the store (`subscribers.optin`) and one-off mails (`transactional`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import write_config
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.errors import InvalidAddress, NotFound
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus, Suppression
from dispatch.store.types import utcnow
from dispatch.subscribers import optin
from dispatch.subscribers.membership import add_subscriber, suppress_address
from dispatch.subscribers.transactional import Mail, Mailer
from dispatch.tokens import ListClaim, PersonClaim, Tokens

DOUBLE, SINGLE = "morning-briefing", "weekly-review"  # the second has no double opt-in here


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "optin-test-secret")


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(
        tmp_path, database_url, {r"^double_opt_in = true$": "double_opt_in = false"}
    )


def sign_up(db: Database, email: str, *lists: str, name: str = "", now=None) -> list[Mail]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return optin.sign_up(session, email, name, list(lists), now or utcnow())


def status(db: Database, email: str, list_slug: str) -> Subscription | None:
    with db.session() as session:
        list_id = get_list(session, list_slug).id
        return session.scalar(
            select(Subscription)
            .join(Subscriber)
            .where(Subscriber.email == email, Subscription.list_id == list_id)
        )


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_double_opt_in_sign_up_is_pending_and_gets_one_confirmation(db: Database) -> None:
    now = utcnow()
    mails = sign_up(db, "Ann@Example.COM", DOUBLE, name="Ann\r\nBcc: x", now=now)

    assert [(m.kind, m.email, m.name, m.list_slug) for m in mails] == [
        ("confirm", "ann@example.com", "Ann Bcc: x", DOUBLE)
    ]
    row = status(db, "ann@example.com", DOUBLE)
    assert row is not None and row.status is SubscriptionStatus.PENDING
    assert row.confirmation_sent_at == now and mails[0].claimed_at == now
    # a second sign-up within the hour sends nothing; after the hour, one more
    assert sign_up(db, "Ann@example.com", DOUBLE, now=now + timedelta(minutes=59)) == []
    # another capitalisation is the same subscriber: no second confirmation either
    assert sign_up(db, "ANN@example.com", DOUBLE, now=now + timedelta(minutes=30)) == []
    assert count(db, Subscriber) == 1
    assert len(sign_up(db, "ANN@EXAMPLE.com", DOUBLE, now=now + timedelta(minutes=61))) == 1


def test_list_without_double_opt_in_confirms_at_once_with_a_welcome(db: Database) -> None:
    mails = sign_up(db, "bob@example.com", SINGLE, DOUBLE, name="Bob")

    assert sorted((m.kind, m.list_slug) for m in mails) == [
        ("confirm", DOUBLE),
        ("welcome", SINGLE),
    ]
    single = status(db, "bob@example.com", SINGLE)
    assert single is not None and single.status is SubscriptionStatus.CONFIRMED
    assert single.confirmed_at is not None


def test_confirmed_subscriber_is_left_alone_and_keeps_their_name(db: Database) -> None:
    with db.session() as session:
        add_subscriber(session, DOUBLE, "cy@example.com", name="Cy", confirmed=True)

    assert sign_up(db, "cy@example.com", DOUBLE, name="Mallory") == []
    with db.session() as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == "cy@example.com"))
        assert person is not None and person.name == "Cy"
    row = status(db, "cy@example.com", DOUBLE)
    assert row is not None and row.status is SubscriptionStatus.CONFIRMED


def test_suppressed_address_gets_nothing_and_nothing_is_stored(db: Database) -> None:
    with db.session() as session:
        suppress_address(session, "gone@example.com", reason="bounce")

    assert sign_up(db, "gone@example.com", DOUBLE, SINGLE) == []
    assert count(db, Subscriber) == 0 and count(db, Subscription) == 0


def test_unsubscribed_address_must_confirm_to_return_even_without_double_opt_in(
    db: Database,
) -> None:
    sign_up(db, "dee@example.com", SINGLE)
    with db.session() as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == "dee@example.com"))
        assert person is not None
        claim = ListClaim(person.id, SINGLE, person.token_key)
        assert optin.unsubscribe(session, claim, utcnow()) == "unsubscribed"

    mails = sign_up(db, "dee@example.com", SINGLE)

    assert [m.kind for m in mails] == ["confirm"]
    row = status(db, "dee@example.com", SINGLE)
    assert row is not None and row.status is SubscriptionStatus.PENDING


def test_bad_input_is_refused_before_anything_is_stored(db: Database) -> None:
    with pytest.raises(InvalidAddress):
        sign_up(db, "not an address", DOUBLE)
    with pytest.raises(NotFound, match='no list "nope"'):
        sign_up(db, "eve@example.com", DOUBLE, "nope")
    assert count(db, Subscriber) == 0


def test_confirm_once_then_already_left_and_gone(db: Database) -> None:
    (mail,) = sign_up(db, "fay@example.com", DOUBLE, name="Fay")
    claim = ListClaim(mail.subscriber_id, DOUBLE, mail.token_key)
    with db.session() as session:
        first = optin.confirm(session, claim, utcnow())
    with db.session() as session:
        second = optin.confirm(session, claim, utcnow())

    assert first.outcome == "confirmed" and first.mail is not None
    assert (first.mail.kind, first.mail.email, first.mail.name) == (
        "welcome",
        "fay@example.com",
        "Fay",
    )
    assert second.outcome == "already" and second.mail is None
    with db.session() as session:
        optin.unsubscribe(session, claim, utcnow())
        assert optin.confirm(session, claim, utcnow()).outcome == "left"
        assert optin.confirm(session, ListClaim(999, DOUBLE, "k"), utcnow()).outcome == "gone"
        assert (
            optin.confirm(
                session, ListClaim(mail.subscriber_id, "nope", mail.token_key), utcnow()
            ).outcome
            == "gone"
        )
    row = status(db, "fay@example.com", DOUBLE)
    assert row is not None and row.status is SubscriptionStatus.UNSUBSCRIBED


def test_unsubscribe_is_immediate_and_idempotent(db: Database) -> None:
    (mail,) = sign_up(db, "gus@example.com", SINGLE)
    claim = ListClaim(mail.subscriber_id, SINGLE, mail.token_key)
    with db.session() as session:
        outcomes = [optin.unsubscribe(session, claim, utcnow()) for _ in range(2)]
        outcomes.append(optin.unsubscribe(session, ListClaim(4242, SINGLE, "k"), utcnow()))

    assert outcomes == ["unsubscribed", "already", "gone"]
    row = status(db, "gus@example.com", SINGLE)
    assert row is not None and row.status is SubscriptionStatus.UNSUBSCRIBED
    assert row.unsubscribed_at is not None


def test_preferences_choose_lists_rename_and_leave_everything(db: Database) -> None:
    (mail,) = sign_up(db, "hal@example.com", DOUBLE, name="Hal")
    person = PersonClaim(mail.subscriber_id, mail.token_key)
    offered = [DOUBLE, SINGLE]
    with db.session() as session:
        before = optin.load_preferences(session, person, offered)
    assert [(c.slug, c.status, c.chosen) for c in before.lists] == [
        (DOUBLE, SubscriptionStatus.PENDING, True),
        (SINGLE, None, False),
    ]

    with db.session() as session:
        mails = optin.save_preferences(
            session, person, " Hal  Jordan ", {SINGLE}, offered, utcnow()
        )
    assert [(m.kind, m.list_slug, m.name) for m in mails] == [("welcome", SINGLE, "Hal Jordan")]
    with db.session() as session:
        after = optin.load_preferences(session, person, offered)
    assert after.name == "Hal Jordan"
    assert {c.slug: c.status for c in after.lists} == {
        DOUBLE: SubscriptionStatus.UNSUBSCRIBED,
        SINGLE: SubscriptionStatus.CONFIRMED,
    }

    with db.session() as session:
        assert optin.leave_all(session, person, utcnow()) == 1
        assert optin.leave_all(session, person, utcnow()) == 0
        final = optin.load_preferences(session, person, offered)
        assert not any(choice.chosen for choice in final.lists)
        with pytest.raises(NotFound):
            optin.load_preferences(session, PersonClaim(4242, "k"), offered)


def test_preferences_add_no_list_for_a_suppressed_address(db: Database) -> None:
    (mail,) = sign_up(db, "ida@example.com", DOUBLE)
    with db.session() as session:
        suppress_address(session, "ida@example.com")
    with db.session() as session:
        person = PersonClaim(mail.subscriber_id, mail.token_key)
        mails = optin.save_preferences(session, person, "", {SINGLE}, [SINGLE], utcnow())
        prefs = optin.load_preferences(session, person, [SINGLE])
    assert mails == [] and prefs.suppressed and not prefs.lists[0].chosen


def test_mailer_sends_a_confirmation_whose_link_verifies(db: Database, settings: Settings) -> None:
    (mail,) = sign_up(db, "jo@example.com", DOUBLE, name="Jo")
    sender = MemorySender()

    assert Mailer(settings, sender).deliver(db, [mail]) == 1

    message = message_from_bytes(sender.sent[0].data, policy=default)
    assert message["To"] == "Jo <jo@example.com>"
    assert message["Subject"] == "Confirm your subscription to Morning Briefing"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(w for w in text.split() if "/confirm/" in w)
    token = link.rsplit("/", 1)[1]
    assert Tokens(settings.secret_key).verify_confirm(token) == ListClaim(
        mail.subscriber_id, DOUBLE, mail.token_key
    )


def test_a_confirmation_that_fails_gives_its_claim_back(db: Database, settings: Settings) -> None:
    now = utcnow()
    (mail,) = sign_up(db, "kim@example.com", DOUBLE, now=now)
    sender = MemorySender()
    sender.fail_temporarily("kim@example.com")

    assert Mailer(settings, sender).deliver(db, [mail]) == 0

    row = status(db, "kim@example.com", DOUBLE)
    assert row is not None and row.confirmation_sent_at is None
    assert len(sign_up(db, "kim@example.com", DOUBLE, now=now + timedelta(minutes=1))) == 1


def test_a_mailbox_that_does_not_exist_is_suppressed(db: Database, settings: Settings) -> None:
    (mail,) = sign_up(db, "nobody@example.com", DOUBLE)
    sender = MemorySender()
    sender.fail("nobody@example.com")  # 550 5.1.1, suppress=True

    Mailer(settings, sender).deliver(db, [mail])

    with db.session() as session:
        assert session.get(Suppression, "nobody@example.com") is not None


def test_simultaneous_sign_ups_for_one_address_send_one_confirmation(db: Database) -> None:
    now = utcnow()
    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda _: sign_up(db, "victim@example.com", DOUBLE, now=now), range(40))
        )

    assert sum(len(mails) for mails in results) == 1
    assert count(db, Subscriber) == 1 and count(db, Subscription) == 1
