"""Admin campaigns: compose, preview (600/375 px frames and text), test to oneself, send
in the background with live progress, pause/resume/cancel, schedule, digest previews,
and the outbox view of what was sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-campaigns-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> Admin:
    return Admin(client, EDITOR)


def create(admin: Admin, **form: str) -> int:
    response = admin.post("/admin/campaigns/new", {"list": LIST, **form})
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/admin/campaigns/(\d+)\?notice=created", response.headers["location"])
    assert found
    return int(found.group(1))


def status(db: Database, campaign_id: int) -> CampaignStatus:
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status


def test_a_draft_shows_desktop_phone_and_text_previews(admin: Admin, db: Database) -> None:
    add_article(db, "tide-tables", title="Tide <tables>")
    campaign_id = create(admin, article="tide-tables")
    page = admin.get(f"/admin/campaigns/{campaign_id}")
    assert page.status_code == 200
    frames = re.findall(r'<iframe title="[^"]*" width="(\d+)"[^>]*sandbox="([^"]*)"', page.text)
    assert [width for width, _ in frames] == ["600", "375"]
    assert all("allow-scripts" not in sandbox for _, sandbox in frames)
    assert 'srcdoc="&lt;!doctype html' in page.text.lower()
    assert "Tide &lt;tables&gt;" in page.text and "Tide <tables>" not in page.text
    assert 'class="plain"' in page.text and "List-Unsubscribe" in page.text


def test_test_send_reaches_only_the_editor(admin: Admin, db: Database, settings: Settings) -> None:
    add_subscribers(db, LIST, 5)
    campaign_id = create(admin, subject="Storm warning", body="Stay *indoors*.")
    sent = admin.post(f"/admin/campaigns/{campaign_id}/test")
    assert sent.headers["location"] == f"/admin/campaigns/{campaign_id}?notice=test-sent"
    with db.session() as session:
        test = session.scalar(select(Campaign).where(Campaign.test_to.is_not(None)))
        assert test is not None and test.test_to == EDITOR and test.status is CampaignStatus.SENT
        test_id = test.id
    files = list((settings.delivery.outbox.dir / str(test_id)).glob("*.eml"))
    assert len(files) == 1 and f"To: {EDITOR}".encode() in files[0].read_bytes()
    assert b"Subject: [TEST] Storm warning" in files[0].read_bytes()
    assert status(db, campaign_id) is CampaignStatus.DRAFT  # the draft itself is untouched


def test_send_now_runs_in_the_background_to_100_percent(
    client: TestClient, admin: Admin, db: Database
) -> None:
    add_subscribers(db, LIST, 120)
    campaign_id = create(admin, subject="Ferry times", body="New timetable.")
    page = admin.get(f"/admin/campaigns/{campaign_id}")
    assert "Send now to 120 recipients" in page.text
    started = admin.post(f"/admin/campaigns/{campaign_id}/send")
    assert started.headers["location"].endswith("notice=started")
    client.app.state.sending.inline.drain(60)  # type: ignore[attr-defined]
    data = admin.get(f"/admin/campaigns/{campaign_id}/progress.json").json()
    assert data["status"] == "sent" and data["sent"] == 120
    assert data["percent"] == 100 and data["final"] is True and data["settled"] is True
    assert 'aria-valuenow="100"' in admin.get(f"/admin/campaigns/{campaign_id}").text
    again = admin.post(f"/admin/campaigns/{campaign_id}/send")  # a double click: no error
    assert again.status_code == 303 and again.headers["location"].endswith("already-sending")


def test_outbox_lists_and_opens_a_delivered_message(
    client: TestClient, admin: Admin, db: Database
) -> None:
    add_subscribers(db, LIST, 3)
    campaign_id = create(admin, subject="Quay <closed>", body="Until **noon**.")
    admin.post(f"/admin/campaigns/{campaign_id}/send")
    client.app.state.sending.inline.drain(60)  # type: ignore[attr-defined]
    assert f'href="/admin/outbox/{campaign_id}"' in admin.get("/admin/outbox").text
    listing = admin.get(f"/admin/outbox/{campaign_id}")
    links = re.findall(rf'href="(/admin/outbox/{campaign_id}/\d+)"', listing.text)
    assert len(set(links)) == 3 and "user1@example.com" in listing.text
    message = admin.get(links[0])
    assert message.status_code == 200
    assert "List-Unsubscribe" in message.text and "Quay &lt;closed&gt;" in message.text
    assert re.search(r'<iframe [^>]*sandbox="allow-popups[^"]*"[^>]*srcdoc="&lt;', message.text)
    assert "&lt;strong&gt;noon&lt;/strong&gt;" in message.text  # the HTML part, escaped
    assert admin.get(f"/admin/outbox/{campaign_id}/999999").status_code == 404


def test_pause_resume_and_cancel(client: TestClient, admin: Admin, db: Database) -> None:
    add_subscribers(db, LIST, 4)
    campaign_id = create(admin, subject="Pause me", body="Body.")
    with db.session() as session:  # started by another process: nothing runs it here
        from dispatch.campaigns import start_campaign

        settings = client.app.state.settings  # type: ignore[attr-defined]
        campaign = session.get(Campaign, campaign_id)
        start_campaign(session, campaign, settings, client.app.state.clock())  # type: ignore[attr-defined]
    assert admin.post(f"/admin/campaigns/{campaign_id}/pause").status_code == 303
    assert status(db, campaign_id) is CampaignStatus.PAUSED
    assert "Resume" in admin.get(f"/admin/campaigns/{campaign_id}").text
    admin.post(f"/admin/campaigns/{campaign_id}/resume")
    client.app.state.sending.inline.drain(60)  # type: ignore[attr-defined]
    assert status(db, campaign_id) is CampaignStatus.SENT
    other = create(admin, subject="Cancel me", body="Body.")
    assert admin.post(f"/admin/campaigns/{other}/cancel").status_code == 303
    assert status(db, other) is CampaignStatus.CANCELLED
    refused = admin.post(f"/admin/campaigns/{other}/resume")
    assert refused.status_code == 400 and "cancelled" in refused.text


def test_schedule_a_draft_and_delete_another(
    client: TestClient, admin: Admin, db: Database
) -> None:
    campaign_id = create(admin, subject="Later", body="Body.")
    when = client.app.state.clock() + timedelta(days=2)  # type: ignore[attr-defined]
    done = admin.post(
        f"/admin/campaigns/{campaign_id}/schedule", {"at": when.strftime("%Y-%m-%dT%H:%M")}
    )
    assert done.headers["location"].endswith("notice=scheduled")
    assert status(db, campaign_id) is CampaignStatus.SCHEDULED
    past = create(admin, subject="Past", body="Body.")
    assert (
        admin.post(f"/admin/campaigns/{past}/schedule", {"at": "2001-01-01T07:00"}).status_code
        == 400
    )
    assert admin.post(f"/admin/campaigns/{past}/schedule", {"at": "soon"}).status_code == 400
    assert admin.post(f"/admin/campaigns/{past}/delete").status_code == 303
    assert admin.get(f"/admin/campaigns/{past}").status_code == 404


def test_compose_needs_an_article_or_a_message(admin: Admin) -> None:
    assert admin.post("/admin/campaigns/new", {"list": LIST}).status_code == 400
    missing = admin.post("/admin/campaigns/new", {"list": LIST, "article": "no-such"})
    assert missing.status_code == 404


def test_digest_previews_show_what_would_go_out_now(admin: Admin, db: Database) -> None:
    add_article(db, "storm-world", section="world", title="Storm over the bay")
    page = admin.get("/admin/campaigns/digests")
    assert page.status_code == 200
    assert "Morning Briefing" in page.text and "1 article(s) since" in page.text
    assert "Storm over the bay" in page.text
    assert "Weekly Review" in page.text and "Nothing new since" in page.text
