"""`dispatch bounces poll` against a real IMAP server (Debian's dovecot, started here):
reports are recorded, then deleted or moved; one that cannot be stored stays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import write_config
from dispatch import config
from dispatch.cli import app
from dispatch.config import Settings
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.jobs import JobContext, Run, poll_bounces
from dispatch.metrics import Metrics
from dispatch.store.database import Database
from dispatch.store.models import Event, Suppression
from support.bounces import BOUNCE_LINES, SentCampaign, sample, send_campaign
from support.dovecot import Dovecot

SECRET = "bounce-imap-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with Dovecot() as server:
        yield server


def imap_settings(tmp_path: Path, url: str, server: Dovecot, move_to: str | None = None) -> Path:
    password = tmp_path / "imap-password"
    password.write_text(server.password + "\n")
    lines = BOUNCE_LINES | {
        r'^# host = "imap.dispatch.example".*$': 'host = "127.0.0.1"',
        r"^port = 993$": f"port = {server.port}",
        r'^security = "tls"(\s+#.*)$': 'security = "none"',
        r'^# user = "bounces@dispatch.example"$': f'user = "{server.user}"',
        r'^# password_file = "/run/secrets/imap".*$': f'password_file = "{password}"',
    }
    if move_to:
        lines[r'^# move_to = "Processed".*$'] = f'move_to = "{move_to}"'
    return write_config(tmp_path, url, lines)


def fill(server: Dovecot, sent: SentCampaign) -> list[str]:
    """Three reports about three people, and two messages that are not bounces."""
    first, second, third = sorted(sent.sent)
    server.append(sample("outlook-hard.eml", sent.sent[first]))
    server.append(sample("arf-complaint.eml", sent.sent[second]))
    server.append(sample("postfix-delayed.eml", sent.sent[third]))
    server.append(sample("vacation.eml", sent.sent[third]))
    server.append(sample("not-mime.eml"))
    return [first, second, third]


def state(db: Database) -> tuple[dict[str, str], list[tuple[str, str | None]]]:
    with db.session() as session:
        kept = {row.email: row.reason for row in session.scalars(select(Suppression))}
        stored = [
            (row.type, row.email) for row in session.scalars(select(Event).order_by(Event.id))
        ]
    return kept, stored


def test_poll_records_then_deletes(
    tmp_path: Path, database_url: str, db: Database, dovecot: Dovecot
) -> None:
    path = imap_settings(tmp_path, database_url, dovecot)
    sent = send_campaign(db, config.load(path))
    first, second, third = fill(dovecot, sent)
    result = CliRunner().invoke(app, ["--config", str(path), "bounces", "poll"])
    assert result.exit_code == 0, result.output
    assert "messages: 5, recorded and removed: 5" in result.output
    assert "auto-reply 1, complaint 1, hard 1, not-bounce 1, soft 1" in result.output
    kept, stored = state(db)
    assert kept == {first: "hard", second: "complaint"}
    assert stored == [("bounced", first), ("complained", second), ("deferred", third)]
    assert dovecot.messages() == []
    again = CliRunner().invoke(app, ["--config", str(path), "bounces", "poll"])
    assert "messages: 0" in again.output


def test_poll_moves_to_a_folder(
    tmp_path: Path, database_url: str, db: Database, dovecot: Dovecot
) -> None:
    path = imap_settings(tmp_path, database_url, dovecot, move_to="Processed")
    sent = send_campaign(db, config.load(path))
    client = dovecot.client()
    client.create("Processed")
    client.logout()
    fill(dovecot, sent)
    result = CliRunner().invoke(app, ["--config", str(path), "bounces", "poll"])
    assert result.exit_code == 0, result.output
    assert dovecot.messages() == [] and len(dovecot.messages("Processed")) == 5


def test_a_report_that_cannot_be_stored_stays_in_the_mailbox(
    tmp_path: Path, database_url: str, db: Database, dovecot: Dovecot
) -> None:
    path = imap_settings(tmp_path, database_url, dovecot)
    sent = send_campaign(db, config.load(path))
    fill(dovecot, sent)
    (tmp_path / "broken").mkdir()
    # the same mailbox, read into a store without tables
    broken = imap_settings(tmp_path / "broken", f"sqlite:///{tmp_path / 'empty.db'}", dovecot)
    empty = Database(config.load(broken).database)  # a store without tables
    empty.engine.connect().close()
    empty.dispose()
    result = CliRunner().invoke(app, ["--config", str(broken), "bounces", "poll"])
    assert result.exit_code != 0
    assert len(dovecot.messages()) == 5  # nothing recorded, nothing removed
    result = CliRunner().invoke(app, ["--config", str(path), "bounces", "poll"])
    assert result.exit_code == 0 and dovecot.messages() == []


def test_a_wrong_password_is_a_clear_error(
    tmp_path: Path, database_url: str, db: Database, dovecot: Dovecot
) -> None:
    path = imap_settings(tmp_path, database_url, dovecot)
    (tmp_path / "imap-password").write_text("wrong")
    result = CliRunner().invoke(app, ["--config", str(path), "bounces", "poll"])
    assert result.exit_code == 2
    assert f"login as {dovecot.user} refused" in result.output


def test_the_scheduler_job_polls(
    tmp_path: Path, database_url: str, db: Database, dovecot: Dovecot
) -> None:
    settings: Settings = config.load(imap_settings(tmp_path, database_url, dovecot))
    sent = send_campaign(db, settings)
    fill(dovecot, sent)
    engines = EngineContext(db, settings, metrics=Metrics(db))
    context = JobContext(engines, InlineExecutor(engines))
    try:
        assert poll_bounces(run=Run(context, datetime.now(UTC))) == 5
    finally:
        context.executor.close()
    assert dovecot.messages() == []
