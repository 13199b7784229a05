"""Kill -9 a real `dispatch send` at random moments, resume it, and check the ledger.

A child process (`python -m dispatch … send article … --yes`) sends a 5,000-recipient
campaign over SMTP (the smtp backend) to a real aiosmtpd server running in this test
process. Each trial waits until the child has recorded progress, sleeps a random
(seeded) moment, then SIGKILLs it; the next trial is `dispatch campaigns resume ID`,
killed the same way. A last resume runs to completion. Then:

- every recipient got the campaign (the server saw every address);
- nobody is recorded as sent whom the server did not receive;
- duplicates the server saw ≤ the campaign's in-doubt count (the sum of the rows'
  `doubts`: messages handed over when a kill came, with no answer recorded), and that
  count stays small: at most the messages in flight at each kill.

A second test makes the in-doubt count exact: the server holds its reply to every
message, so each kill leaves exactly `pool_size` messages handed over and unanswered.
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
from dispatch.campaigns.progress import in_doubt as in_doubt_of
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
IN_FLIGHT = 4  # SMTP connections: messages handed over at once


def test_sigkill_at_random_moments_then_resume(tmp_path: Path, database_url: str) -> None:
    rng = random.Random(SEED)
    with SmtpServer() as server:
        path = write_config(tmp_path, database_url, _smtp(server.port))
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
        in_doubt = in_doubt_of(session, campaign_id)
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
    assert duplicates <= in_doubt <= kills * IN_FLIGHT  # only what was in flight at a kill


def test_in_doubt_is_exact_across_two_crashes(tmp_path: Path, database_url: str) -> None:
    with SmtpServer() as server:
        path = write_config(tmp_path, database_url, _smtp(server.port))
        db = _prepare(path, recipients=200)
        env = os.environ | {"DISPATCH_SECRET_KEY": "crash-test-secret"}
        dispatch = [sys.executable, "-m", "dispatch", "--config", str(path)]
        first = [*dispatch, "send", "article", "big-story", "--list", LIST, "--yes", "--no-wait"]
        server.handler.data_delay = 60.0  # every message received, no reply: all in flight
        for round_, command in enumerate((first, None), start=1):
            command = command or [*dispatch, "campaigns", "resume", "1", "--no-wait"]
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _wait_for(lambda r=round_: len(server.received) >= r * IN_FLIGHT, child)
            time.sleep(0.3)  # nothing more can go: every connection waits for its reply
            assert len(server.received) == round_ * IN_FLIGHT
            child.send_signal(signal.SIGKILL)
            child.wait()
        server.handler.data_delay = 0.0
        final = subprocess.run(
            [*dispatch, "campaigns", "resume", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert final.returncode == 0, final.stdout + final.stderr
        received = server.handler.recipients()
    with db.session() as session:
        in_doubt = in_doubt_of(session, 1)
    db.dispose()
    duplicates = sum(received.values()) - 200
    backend = database_url.split(":")[0]
    print(f"\ntwo crashes ({backend}): {duplicates} duplicates, in doubt {in_doubt}")
    assert len(received) == 200
    assert in_doubt == duplicates == 2 * IN_FLIGHT  # the same 4 messages, handed over 3 times


def _smtp(port: int) -> dict[str, str]:
    return {
        r'^backend = "outbox".*$': 'backend = "smtp"',
        r"^port = 25$": f"port = {port}",
        r'^security = "starttls".*$': 'security = "none"',
        r"^pool_size = 2 .*$": f"pool_size = {IN_FLIGHT}",
        r"^concurrency = 2 .*$": f"concurrency = {IN_FLIGHT}",
    }


def _wait_for(condition, child: subprocess.Popen) -> None:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + 30
    while not condition():
        assert child.poll() is None, "the child ended before the server held its messages"
        assert time.monotonic() < deadline, "the server did not get the messages in 30 s"
        time.sleep(0.02)


def _prepare(path: Path, recipients: int = RECIPIENTS) -> Database:
    settings = config.load(path)
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    add_subscribers(db, LIST, recipients)
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
