from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select, update
from typer.testing import Result

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, SubscriptionStatus
from dispatch.store.types import utcnow
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"
Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "cli-send-secret")


def campaigns(db: Database) -> list[Campaign]:
    with db.session() as session:
        return list(session.scalars(select(Campaign).order_by(Campaign.id)))


def outbox(settings: Settings, campaign_id: int) -> list[bytes]:
    folder = settings.delivery.outbox.dir / str(campaign_id)
    return [path.read_bytes() for path in sorted(folder.glob("*.eml"))]


def test_send_article_asks_then_sends_with_a_summary(
    cli: Cli, db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 3)
    add_article(db, "big-story", title="Big story")
    result = cli("send", "article", "big-story", "--list", LIST, input="y\n")
    assert result.exit_code == 0, result.output
    assert 'Send "Big story" to 3 recipients of Morning Briefing?' in result.output
    assert (
        "Campaign 1: sent. Sent 3, failed 0, skipped 0, suppressed 0, cancelled 0, in doubt 0"
        in result.output
    )
    assert len(outbox(settings, 1)) == 3
    shown = cli("campaigns", "show", "1")
    assert shown.exit_code == 0 and "Status: sent" in shown.output
    assert (
        "sent 3" in shown.output
        and "In doubt (sent again after an unknown outcome; possible duplicates): 0" in shown.output
    )
    listed = cli("campaigns", "list")
    assert "Big story" in listed.output and "sent" in listed.output
    again = cli("campaigns", "resume", "1")
    assert again.exit_code == 0 and "already sent: nothing to do" in again.output
    assert len(outbox(settings, 1)) == 3


def test_declining_leaves_nothing_behind(cli: Cli, db: Database) -> None:
    add_subscribers(db, LIST, 2)
    add_article(db, "big-story")
    result = cli("send", "article", "big-story", "--list", LIST, input="n\n")
    assert result.exit_code == 1 and "Nothing sent." in result.output
    assert campaigns(db) == []


def test_digest_with_nothing_new_sends_nothing(cli: Cli, db: Database) -> None:
    add_subscribers(db, LIST, 2)
    result = cli("send", "digest", "--list", LIST, "--yes")
    assert result.exit_code == 0, result.output
    assert "Nothing new in morning-briefing since" in result.output
    assert "no campaign created" in result.output
    assert campaigns(db) == []


def test_digest_since_reaches_back_to_older_articles(
    cli: Cli, db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 2)
    add_article(db, "old-news", published_at=utcnow() - timedelta(days=30))
    add_article(db, "older-news", published_at=utcnow() - timedelta(days=90))
    assert "Nothing new" in cli("send", "digest", "--list", LIST, "--yes").output
    since = (utcnow() - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")
    result = cli("send", "digest", "--list", LIST, "--since", since, "--yes")
    assert result.exit_code == 0, result.output
    [campaign] = campaigns(db)
    assert len(campaign.article_ids) == 1 and campaign.recipients_total == 2
    assert len(outbox(settings, campaign.id)) == 2
    bad = cli("send", "digest", "--list", LIST, "--since", "last week", "--yes")
    assert bad.exit_code == 2 and '--since "last week" is not an ISO 8601 time' in bad.output


def test_digest_test_send_goes_to_the_test_address_only(
    cli: Cli, db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 5)
    add_article(db, "fresh-story")
    result = cli("send", "digest", "--list", LIST, "--test-to", "ed@dispatch.example", "--yes")
    assert result.exit_code == 0, result.output
    (message,) = outbox(settings, 1)
    parsed = message_from_bytes(message, policy=default)
    assert parsed["To"] == "ed@dispatch.example"
    assert parsed["Subject"].startswith("[TEST] Morning Briefing: Fresh Story")
    # a test is not the list's digest: the real one still carries the article
    real = cli("send", "digest", "--list", LIST, "--yes")
    assert real.exit_code == 0 and len(outbox(settings, 2)) == 5


def test_schedule_then_run_due(cli: Cli, db: Database, settings: Settings) -> None:
    add_subscribers(db, LIST, 4)
    add_article(db, "big-story")
    past = cli("send", "article", "big-story", "--list", LIST, "--at", "2001-01-01T07:00", "--yes")
    assert past.exit_code == 2 and "in the past" in past.output
    later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    result = cli("send", "article", "big-story", "--list", LIST, "--at", later, "--yes")
    assert result.exit_code == 0, result.output
    assert "scheduled for" in result.output
    (campaign,) = campaigns(db)
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.recipients_total == 0
    assert cli("campaigns", "run-due").output.strip() == "Nothing due."
    with db.session() as session:
        session.execute(update(Campaign).values(scheduled_at=utcnow() - timedelta(seconds=1)))
    ran = cli("campaigns", "run-due")
    assert ran.exit_code == 0, ran.output
    assert "Campaign 1: sent. Sent 4" in ran.output
    assert len(outbox(settings, 1)) == 4


def test_pause_resume_cancel_commands(cli: Cli, db: Database) -> None:
    add_article(db, "big-story")
    later = (utcnow() + timedelta(days=1)).isoformat()
    assert (
        cli("send", "article", "big-story", "--list", LIST, "--at", later, "--yes").exit_code == 0
    )
    paused = cli("campaigns", "pause", "1")
    assert paused.exit_code == 2 and "is scheduled: it cannot become paused" in paused.output
    resumed = cli("campaigns", "resume", "1")
    assert resumed.exit_code == 2 and "not started" in resumed.output
    cancelled = cli("campaigns", "cancel", "1", "--yes")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert campaigns(db)[0].status == CampaignStatus.CANCELLED
    missing = cli("campaigns", "show", "99")
    assert missing.exit_code == 2 and "no campaign 99" in missing.output


def test_a_list_nobody_can_receive_is_refused_unless_allowed(cli: Cli, db: Database) -> None:
    add_subscribers(db, LIST, 3, status=SubscriptionStatus.PENDING)
    add_article(db, "big-story")
    refused = cli("send", "article", "big-story", "--list", LIST, "--yes")
    assert refused.exit_code == 2
    assert 'nobody on list "morning-briefing" can receive it' in refused.output
    assert "3 still pending confirmation" in refused.output
    assert campaigns(db) == []  # nothing created, nothing marked sent
    allowed = cli("send", "article", "big-story", "--list", LIST, "--yes", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert "sent. Sent 0" in allowed.output


def test_a_missing_provider_key_is_found_before_anything_is_created(
    cli: Cli, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    text = settings.path.read_text(encoding="utf-8")
    settings.path.write_text(text.replace('backend = "outbox"', 'backend = "sendgrid"'))
    add_subscribers(db, LIST, 3)
    add_article(db, "big-story")
    result = cli("send", "article", "big-story", "--list", LIST, "--yes")
    assert result.exit_code == 2 and "secret missing: set SENDGRID_API_KEY" in result.output
    assert campaigns(db) == []
    serve = cli("serve", "--no-scheduler")
    assert serve.exit_code == 2 and "SENDGRID_API_KEY" in serve.output  # before listening


def test_retry_failed_sends_once_more_to_the_failed(
    cli: Cli, db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 4)
    add_article(db, "big-story")
    assert cli("send", "article", "big-story", "--list", LIST, "--yes").exit_code == 0
    with db.session() as session:  # as if the provider had refused one of them
        session.execute(
            update(Delivery).where(Delivery.email == "user2@example.com").values(status="failed")
        )
    (settings.delivery.outbox.dir / "1" / "3.eml").unlink()  # user2's message: delivery 3
    result = cli("campaigns", "retry-failed", "1")
    assert result.exit_code == 0, result.output
    assert "1 failed recipients queued again" in result.output
    assert "Campaign 1: sent. Sent 4, failed 0" in result.output
    assert (settings.delivery.outbox.dir / "1" / "3.eml").exists()
    again = cli("campaigns", "retry-failed", "1")
    assert again.exit_code == 0 and "0 failed recipients" in again.output
