"""End to end: `dispatch serve` (web + scheduler in one process) in a subprocess sends a
list's digest at its scheduled second to a real SMTP server (aiosmtpd, in this test
process); killed with SIGKILL mid-send and started again, it completes the campaign —
stopped with SIGTERM mid-send, it lets the batch in flight finish (nothing left in
doubt) and exits 0; started a third time, it completes the campaign: every subscriber
got it, duplicates ≤ in doubt (messages the kill left handed over without an answer).

The schedule uses the optional 6-field cron (seconds first), a few seconds ahead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from conftest import write_config
from dispatch import config
from dispatch.campaigns.progress import in_doubt as in_doubt_of
from dispatch.campaigns.welcome import MAX_LATE
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Subscription,
)
from support.campaigns import add_article, add_subscribers
from support.scheduling import wait_for
from support.smtp_server import SmtpServer, free_port

LIST = "morning-briefing"
TOKEN = "serve-e2e-metrics-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
RECIPIENTS = 600
LEAD = timedelta(seconds=20)  # start-up takes ~3 s (more on a busy machine); fires after


def test_serve_sends_the_digest_on_time_and_completes_it_after_a_kill(
    tmp_path: Path, database_url: str
) -> None:
    fire = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    port = free_port()
    with SmtpServer() as server:
        server.handler.data_delay = 0.02  # slow enough to be killed mid-send
        path = write_config(
            tmp_path,
            database_url,
            {
                r'^backend = "outbox".*$': 'backend = "smtp"',
                r"^port = 25$": f"port = {server.port}",
                r'^security = "starttls".*$': 'security = "none"',
                r'^schedule = "0 7 \* \* \*".*$': f'schedule = "{fire:%S %M %H} * * *"',
                r'^timezone = "Europe/London"  .*schedule.*$': 'timezone = "UTC"',
            },
        )
        db = prepare(path)
        everyone = set(add_subscribers(db, LIST, RECIPIENTS))
        confirmed_long_ago(db)  # else the scheduler's welcome:send welcomes them all first
        add_article(db, "harbour-news")
        serve = [sys.executable, "-m", "dispatch", "--config", str(path), "serve"]
        serve += ["--port", str(port), "--no-access-log"]
        first = launch(serve, tmp_path / "first.log")
        try:
            health = wait_healthy(port, first)
            assert health["scheduler"]["state"] == "running"
            assert datetime.now(UTC) < fire, "start-up took longer than the schedule's lead"
            wait_for(lambda: len(server.received) >= 40, timeout=60, what="the digest to begin")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        campaign_id, status = only_campaign(db)
        assert status == CampaignStatus.SENDING, "killed too late: the send had finished"
        assert len(server.received) < RECIPIENTS
        assert f"at http://127.0.0.1:{port}/" in (tmp_path / "first.log.out").read_text()

        second = launch(serve, tmp_path / "second.log")
        try:
            wait_healthy(port, second)
            wait_for(lambda: len(server.received) >= RECIPIENTS // 2, 60, "the resumed send")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0
        assert "event=scheduler.stopped clean=True" in (tmp_path / "second.log").read_text()
        assert only_campaign(db)[1] == CampaignStatus.SENDING, "SIGTERM came too late"
        assert in_flight(db) == 0  # the batch in flight finished and was recorded

        third = launch(serve, tmp_path / "third.log")
        try:
            wait_healthy(port, third)
            wait_for(lambda: only_campaign(db)[1] == CampaignStatus.SENT, 90, "completion")
        finally:
            third.send_signal(signal.SIGTERM)
            assert third.wait(60) == 0
        received = server.handler.recipients()

    assert only_campaign(db) == (campaign_id, CampaignStatus.SENT)  # one digest, no repeat
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.period_key == f"digest:{LIST}:{fire.isoformat()}"
        in_doubt = in_doubt_of(session, campaign.id)
        statuses = session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
    db.dispose()
    assert statuses == [(DeliveryStatus.SENT, RECIPIENTS)]
    duplicates = sum(received.values()) - RECIPIENTS
    print(
        f"\nserve e2e ({database_url.split(':')[0]}): {duplicates} duplicates, in doubt {in_doubt}"
    )
    assert set(received) == everyone  # nobody skipped
    assert duplicates <= in_doubt  # duplicates only where a kill left rows in doubt


def prepare(path: Path) -> Database:
    settings = config.load(path)
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    return db


def confirmed_long_ago(db: Database) -> None:
    """Readers of long standing: confirmed before any welcome step could still reach them
    (`campaigns.welcome.MAX_LATE`), so the digest is the only campaign."""
    with db.session() as session:
        session.execute(
            update(Subscription).values(
                confirmed_at=datetime.now(UTC) - MAX_LATE - timedelta(days=1)
            )
        )


def launch(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"DISPATCH_SECRET_KEY": "serve-e2e-secret", "DISPATCH_METRICS_TOKEN": TOKEN}
    with log.open("wb") as err, Path(f"{log}.out").open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=err)


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> dict:  # type: ignore[type-arg]
    def healthy() -> dict | None:  # type: ignore[type-arg]
        assert process.poll() is None, "dispatch serve exited"
        try:
            response = httpx.get(  # the token shows the details (the scheduler's state)
                f"http://127.0.0.1:{port}/healthz", headers=BEARER, timeout=2
            )
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    return wait_for(healthy, timeout=30, what="/healthz")  # type: ignore[return-value]


def in_flight(db: Database) -> int:
    with db.session() as session:
        query = select(func.count()).where(Delivery.status == DeliveryStatus.SENDING)
        return int(session.scalar(query) or 0)


def only_campaign(db: Database) -> tuple[int, CampaignStatus]:
    with db.session() as session:
        rows = session.execute(select(Campaign.id, Campaign.status)).all()
    assert len(rows) <= 1, rows
    return (rows[0][0], rows[0][1]) if rows else (0, CampaignStatus.DRAFT)
