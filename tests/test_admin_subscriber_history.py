"""A subscriber's page in the admin: subscriptions, mails received (the ledger joined to
campaigns), bounces and complaints; lifting a suppression needs a reason (kept, with who
and when) and, for a complaint, an explicit confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.bounces.intake import BounceIntake
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Suppression, SuppressionLift
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.bounces import BOUNCE_LINES, SentCampaign, sample, send_campaign

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "subscriber-history-secret")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return config.load(write_config(tmp_path, database_url, BOUNCE_LINES))


@pytest.fixture
def reported(db: Database, settings: Settings) -> tuple[SentCampaign, str, str, str]:
    """A campaign to three people: one hard bounce, one complaint, one fine."""
    sent = send_campaign(db, settings, people=3)
    hard, complainer, calm = sorted(sent.sent)
    intake = BounceIntake.from_settings(settings, db)
    intake.handle(sample("postfix-hard.eml", sent.sent[hard]))
    intake.handle(sample("arf-complaint.eml", sent.sent[complainer]))
    return sent, hard, complainer, calm


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def subscriber_id(db: Database, email: str) -> int:
    with db.session() as session:
        found = session.scalar(select(Subscriber.id).where(Subscriber.email == email))
        assert found is not None
        return found


def suppressed(db: Database, email: str) -> bool:
    with db.session() as session:
        return session.get(Suppression, email) is not None


def test_the_page_shows_subscriptions_mails_and_bounces(
    admin: Admin, db: Database, reported: tuple[SentCampaign, str, str, str]
) -> None:
    sent, hard, complainer, calm = reported
    person = subscriber_id(db, hard)
    assert f'href="/admin/subscribers/{person}"' in admin.get(f"/admin/lists/{LIST}").text
    page = admin.get(f"/admin/subscribers/{person}")
    assert page.status_code == 200
    assert "Morning Briefing" in page.text and ">confirmed<" in page.text
    assert f"#{sent.campaign_id}" in page.text and ">bounced<" in page.text
    assert "User unknown in local recipient table" in page.text  # the bounce event
    assert "suppressed</span> since" in page.text
    other = admin.get(f"/admin/subscribers/{subscriber_id(db, complainer)}")
    assert ">unsubscribed<" in other.text and "they complained about our mail" in other.text
    assert 'name="confirm_complaint"' in other.text
    fine = admin.get(f"/admin/subscribers/{subscriber_id(db, calm)}")
    assert ">sent<" in fine.text and "Not suppressed." in fine.text
    assert admin.get("/admin/subscribers/999999").status_code == 404


def test_lifting_needs_a_reason_which_is_kept(
    admin: Admin, db: Database, reported: tuple[SentCampaign, str, str, str]
) -> None:
    _, hard, _, calm = reported
    person = subscriber_id(db, hard)
    path = f"/admin/subscribers/{person}/unsuppress"
    for blank in ("", "   \n\t"):
        refused = admin.post(path, {"reason": blank})
        assert refused.status_code == 400 and "say why" in refused.text
    assert suppressed(db, hard)
    why = "Mailbox fixed; they asked by phone ☎ (ticket #42)"
    lifted = admin.post(path, {"reason": why})
    assert lifted.status_code == 303 and "notice=unsuppressed" in lifted.headers["location"]
    assert not suppressed(db, hard)
    with db.session() as session:
        (lift,) = session.scalars(select(SuppressionLift))
        assert (lift.email, lift.reason, lift.lifted_by) == (hard, why, EDITOR)
        assert lift.previous_reason and lift.suppressed_at is not None
    page = admin.get(lifted.headers["location"])
    assert "Lifted before" in page.text and "ticket #42" in page.text
    again = admin.post(path, {"reason": why})
    assert again.status_code == 404 and "not suppressed" in again.text
    never = admin.post(f"/admin/subscribers/{subscriber_id(db, calm)}/unsuppress", {"reason": "x"})
    assert never.status_code == 404


def test_a_complaint_is_lifted_only_when_confirmed(
    admin: Admin, db: Database, reported: tuple[SentCampaign, str, str, str]
) -> None:
    _, _, complainer, _ = reported
    path = f"/admin/subscribers/{subscriber_id(db, complainer)}/unsuppress"
    refused = admin.post(path, {"reason": "They wrote to us"})
    assert refused.status_code == 400 and "confirm explicitly" in refused.text
    assert "They wrote to us" in refused.text  # the reason typed is not lost
    assert suppressed(db, complainer)
    too_long = admin.post(path, {"reason": "x" * 5000, "confirm_complaint": "1"})
    assert too_long.status_code == 400 and "too long" in too_long.text
    assert suppressed(db, complainer)
    done = admin.post(path, {"reason": "They wrote to us", "confirm_complaint": "1"})
    assert done.status_code == 303 and not suppressed(db, complainer)


def test_the_page_shows_earlier_confirmations_and_unsubscribes(admin: Admin, db: Database) -> None:
    """Joined, left by the link, joined again: the row holds the latest times, the page
    also lists the ones they replaced."""
    from datetime import UTC, datetime

    from dispatch.subscribers import optin
    from dispatch.tokens import ListClaim

    days = [datetime(2026, 3, day, 9, tzinfo=UTC) for day in (2, 9, 16)]
    with db.session() as session:
        (mail,) = optin.sign_up(session, "twice@example.org", "", [LIST], days[0])
        key = session.get_one(Subscriber, mail.subscriber_id).token_key
        claim = ListClaim(mail.subscriber_id, LIST, key)
        optin.confirm(session, claim, days[0])
        optin.unsubscribe(session, claim, days[1])
        optin.sign_up(session, "twice@example.org", "", [LIST], days[2])
        optin.confirm(session, claim, days[2])
    page = admin.get(f"/admin/subscribers/{mail.subscriber_id}").text
    assert ">confirmed<" in page and "2026-03-16" in page
    assert "earlier: subscribed 2026-03-02" in page
