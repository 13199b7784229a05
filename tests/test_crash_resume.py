"""Kill -9 a real `dispatch send` at random moments, resume it, and check the ledger.

A child process (`python -m dispatch … send article … --yes`) sends a 5,000-recipient
campaign over SMTP (the smtp backend) to a real aiosmtpd server running in this test
process. Each trial waits until the child has recorded progress, sleeps a random
(seeded) moment, then SIGKILLs it; the next trial is `dispatch campaigns resume ID`,
killed the same way. A last resume runs to completion. Then:

- every recipient got the campaign (the server saw every address);
- nobody is recorded as sent whom the server did not receive;
- duplicates the server saw ≤ the campaign's `in_doubt` count (rows a kill left in
  `sending`: the only possible duplicates).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from conftest import write_config
from dispatch import config
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from support.campaigns import add_article, add_subscribers
from support.smtp_server import SmtpServer

SEED = 20261126
TRIALS = 10
RECIPIENTS = 5_000
LIST = "morning-briefing"
MAX_DELAY = 0.15  # seconds after the child's first recorded progress


def test_sigkill_at_random_moments_then_resume(tmp_path: Path, database_url: str) -> None:
    rng = random.Random(SEED)
    with SmtpServer() as server:
        path = write_config(
            tmp_path,
            database_url,
            {
                r'^backend = "outbox".*$': 'backend = "smtp"',
                r"^port = 25$": f"port = {server.port}",
                r'^security = "starttls".*$': 'security = "none"',
                r"^pool_size = 2 .*$": "pool_size = 4",
                r"^concurrency = 2 .*$": "concurrency = 4",
            },
        )
        db = _prepare(path)
        env = os.environ | {"DISPATCH_SECRET_KEY": "crash-test-secret"}
        dispatch = [sys.executable, "-m", "dispatch", "--config", str(path)]
        first = [*dispatch, "send", "article", "big-story", "--list", LIST, "--yes", "--no-wait"]
        kills, campaign_id, started = 0, None, time.monotonic()
        while kills < TRIALS:
            command = (
                first
                if campaign_id is None
                else [*dispatch, "campaigns", "resume", str(campaign_id), "--no-wait"]
            )
            if _kill_during_send(db, command, env, rng):
                kills += 1
            campaign_id = campaign_id or db_campaign(db)
            if _status(db, campaign_id) == CampaignStatus.SENT:
                break
        final = subprocess.run(
            [*dispatch, "campaigns", "resume", str(campaign_id)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert final.returncode == 0, final.stdout + final.stderr
        received = server.handler.recipients()
        message_ids = Counter(item.message()["Message-ID"] for item in server.received)

    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == CampaignStatus.SENT
        rows = session.execute(
            select(Delivery.email, Delivery.status).where(Delivery.campaign_id == campaign_id)
        ).all()
        in_doubt = campaign.in_doubt
    db.dispose()
    everyone = {email for email, _ in rows}
    assert len(everyone) == RECIPIENTS
    assert set(received) == everyone  # every recipient received it
    assert all(status == DeliveryStatus.SENT for _, status in rows)
    assert all(received[email] >= 1 for email, _ in rows)  # recorded sent ⇒ server has it
    duplicates = sum(received.values()) - RECIPIENTS
    assert duplicates == sum(message_ids.values()) - len(message_ids)  # same Message-ID
    print(
        f"\ncrash test ({database_url.split(':')[0]}): {kills} kills, {duplicates} duplicates, "
        f"in doubt {in_doubt}, {time.monotonic() - started:.1f} s"
    )
    assert kills >= TRIALS
    assert duplicates <= in_doubt


def _prepare(path: Path) -> Database:
    settings = config.load(path)
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    add_subscribers(db, LIST, RECIPIENTS)
    add_article(db, "big-story")
    return db


def _kill_during_send(
    db: Database, command: list[str], env: dict[str, str], rng: random.Random
) -> bool:
    """Start `command`; once it has recorded progress, SIGKILL it after a random delay.
    False when it finished on its own first."""
    before = _sent(db)
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while _sent(db) <= before and child.poll() is None:
        assert time.monotonic() < deadline, "the child made no progress in 30 s"
        time.sleep(0.05)
    if child.poll() is not None:
        return False
    time.sleep(rng.uniform(0, MAX_DELAY))
    child.send_signal(signal.SIGKILL)
    child.wait()
    return True


def _sent(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENT)) or 0
        )


def db_campaign(db: Database) -> int:
    with db.session() as session:
        campaign_id = session.scalar(select(Campaign.id))
        assert campaign_id is not None
        return campaign_id


def _status(db: Database, campaign_id: int) -> CampaignStatus:
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status
