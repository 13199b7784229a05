"""Where bounces and complaints show: `dispatch subscribers show`, `dispatch campaigns
show`, the admin's campaign and list pages, the dashboard's doctor panel; and erasure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner, Result

from conftest import write_config
from dispatch import config
from dispatch.bounces.intake import BounceIntake
from dispatch.cli import app
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Event
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.bounces import BOUNCE_LINES, SentCampaign, sample, send_campaign
from support.live_server import free_port

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "deliverability-views-secret")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    dead_dns = {  # the doctor's DNS questions fail at once instead of waiting on the system's
        r"^# nameserver = .*$": f'nameserver = "127.0.0.1:{free_port()}"',
        r"^timeout = 5 .*$": "timeout = 1",
    }
    return config.load(write_config(tmp_path, database_url, BOUNCE_LINES | dead_dns))


@pytest.fixture
def reported(db: Database, settings: Settings) -> tuple[SentCampaign, str, str]:
    """A campaign to three people: one hard bounce, one complaint."""
    sent = send_campaign(db, settings, people=3)
    hard, complainer, _ = sorted(sent.sent)
    intake = BounceIntake.from_settings(settings, db)
    intake.handle(sample("postfix-hard.eml", sent.sent[hard]))
    intake.handle(sample("arf-complaint.eml", sent.sent[complainer]))
    return sent, hard, complainer


def cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(app, ["--config", str(settings.path), *args])


def test_subscribers_show_lists_the_history(
    settings: Settings, reported: tuple[SentCampaign, str, str]
) -> None:
    sent, hard, complainer = reported
    result = cli(settings, "subscribers", "show", hard.upper())
    assert result.exit_code == 0, result.output
    assert hard in result.output and f"{LIST}: confirmed" in result.output
    assert "Suppressed since" in result.output and "(hard)" in result.output
    assert "bounced" in result.output and "5.1.1" in result.output
    assert f"#{sent.campaign_id}" in result.output
    other = cli(settings, "subscribers", "show", complainer)
    assert f"{LIST}: unsubscribed" in other.output and "complained" in other.output
    calm = cli(settings, "subscribers", "show", sorted(sent.sent)[2])
    assert "No bounces or complaints." in calm.output and "Not suppressed" in calm.output
    missing = cli(settings, "subscribers", "show", "nobody@nowhere.example")
    assert missing.exit_code == 2 and "no subscriber" in missing.output


def test_campaigns_show_counts_bounced_and_complained(
    settings: Settings, reported: tuple[SentCampaign, str, str]
) -> None:
    sent, _, _ = reported
    result = cli(settings, "campaigns", "show", str(sent.campaign_id))
    assert result.exit_code == 0, result.output
    assert "bounced 1, complained 1" in result.output


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def test_admin_pages_show_bounces_and_complaints(
    admin: Admin, reported: tuple[SentCampaign, str, str]
) -> None:
    sent, hard, complainer = reported
    page = admin.get(f"/admin/campaigns/{sent.campaign_id}")
    assert page.status_code == 200
    assert 'data-field="bounced">Bounced: 1<' in page.text
    assert 'data-field="complained">Complained: 1<' in page.text
    people = admin.get(f"/admin/lists/{LIST}")
    assert "Bounces and complaints" in people.text
    assert hard in people.text and "User unknown in local recipient table" in people.text
    assert "complained" in people.text and complainer in people.text


def test_the_dashboard_shows_what_the_doctor_found(admin: Admin) -> None:
    deadline = time.monotonic() + 60
    page = admin.get("/admin")
    while "Deliverability check" in page.text and "Checking DNS" in page.text:
        assert time.monotonic() < deadline, "the doctor never finished"
        time.sleep(0.2)
        page = admin.get("/admin")
    assert "Mail may be rejected" in page.text
    assert "base_url" in page.text and "https" in page.text  # the test site is http


def test_erasing_a_person_erases_their_events(
    settings: Settings, db: Database, reported: tuple[SentCampaign, str, str]
) -> None:
    _, hard, _ = reported
    assert cli(settings, "subscribers", "delete", hard, "--yes").exit_code == 0
    with db.session() as session:
        assert session.scalars(select(Event).where(Event.email == hard)).all() == []
