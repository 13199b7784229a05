"""Celery executor end to end: real `dispatch worker` processes, a real broker (Redis and
RabbitMQ), PostgreSQL and the aiosmtpd server.

- Two workers and a `dispatch scheduler` (which starts the scheduled campaign and
  queues its batches) send a 20,000-recipient campaign: everybody receives it once.
- The same with one worker SIGKILLed mid-send: the other finishes it, nobody is
  skipped, and duplicates are at most the in-doubt count, itself at most what the killed
  worker had in flight (its batches times its connections).
- A worker in the middle of a batch while an operator runs `dispatch campaigns resume`
  (inline, in another process) on the same campaign: each sends only rows it claimed, so
  nobody gets it twice.

PostgreSQL only (celery refuses SQLite). Without DISPATCH_TEST_DATABASE_URL these tests
skip, unless DISPATCH_REQUIRE_SERVICES=1 (CI): then they fail. A missing broker always
fails them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from conftest import write_config
from dispatch import config
from dispatch.campaigns import Options, create_article
from dispatch.campaigns.progress import Progress
from dispatch.campaigns.progress import in_doubt as in_doubt_of
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.executor.celery_app import make_app
from dispatch.executor.celery_submit import CeleryExecutor
from dispatch.executor.context import EngineContext
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
from dispatch.store.types import utcnow
from support.campaigns import add_article, add_subscribers
from support.services import postgresql_schema
from support.smtp_server import SmtpServer

RECIPIENTS = 6_000  # enough for several batches per worker; the rate is a benchmark
LIST = "morning-briefing"
BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgresql_schema() as url:
        yield url


@pytest.mark.parametrize("broker", sorted(BROKERS))
@pytest.mark.parametrize("kill", [False, True], ids=["clean", "sigkill"])
def test_two_workers_send_every_recipient_once(
    tmp_path: Path, pg_url: str, broker: str, kill: bool
) -> None:
    with SmtpServer() as server:
        settings = _settings(tmp_path, pg_url, server.port, BROKERS[broker])
        db = _prepare(settings)
        campaign_id = _create(db, settings, schedule=not kill)
        env = os.environ | {"DISPATCH_SECRET_KEY": "celery-test-secret"}
        env.pop("DISPATCH_BROKER_URL", None)
        _purge(settings)
        workers = [_worker(settings.path, env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        began = time.monotonic()
        try:
            if kill:  # submitted directly
                executor = CeleryExecutor(EngineContext(db, settings))
                executor.submit(campaign_id)
                executor.close()
                _wait(lambda: _sent(db, campaign_id) >= RECIPIENTS // 4, 60, workers)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait(10)
            else:  # the scheduler starts it when due and queues its batches
                workers.append(
                    _dispatch(settings.path, env, tmp_path / "scheduler.log", "scheduler")
                )
            _wait(lambda: _status(db, campaign_id) == CampaignStatus.SENT, 150, workers[1:])
        finally:
            _stop(workers)
        elapsed = time.monotonic() - began
        received = server.handler.recipients()
    with db.session() as session:
        in_doubt = in_doubt_of(session, campaign_id)
        rows = session.execute(
            select(Delivery.email, Delivery.status).where(Delivery.campaign_id == campaign_id)
        ).all()
    db.dispose()
    everyone = {email for email, _ in rows}
    duplicates = sum(received.values()) - len(received)
    print(
        f"\n{broker}{' + SIGKILL' if kill else ''}: {RECIPIENTS:,} in {elapsed:.1f} s "
        f"({RECIPIENTS / elapsed:,.0f}/s), {duplicates} duplicates, {in_doubt} in doubt"
    )
    assert len(everyone) == RECIPIENTS
    assert set(received) == everyone  # nobody skipped
    assert all(status == DeliveryStatus.SENT for _, status in rows)
    assert duplicates <= in_doubt <= 4 * 4  # its 4 batches, 4 connections each
    if not kill:
        assert duplicates == 0 and in_doubt == 0
        assert set(received.values()) == {1}


@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_a_resume_beside_a_busy_worker_sends_nobody_twice(
    tmp_path: Path, pg_url: str, broker: str
) -> None:
    with SmtpServer() as server:
        settings = _settings(tmp_path, pg_url, server.port, BROKERS[broker])
        db = _prepare(settings, recipients=2_000)
        campaign_id = _create(db, settings, schedule=False, recipients=2_000)
        (tmp_path / "inline").mkdir()  # the operator's shell: the same store, inline executor
        inline = write_config(tmp_path / "inline", pg_url, _smtp(server.port))
        env = os.environ | {"DISPATCH_SECRET_KEY": "celery-test-secret"}
        env.pop("DISPATCH_BROKER_URL", None)
        _purge(settings)
        server.handler.data_delay = 0.01  # slow enough that the worker is mid-batch
        workers = [_worker(settings.path, env, tmp_path / "worker.log")]
        try:
            executor = CeleryExecutor(EngineContext(db, settings))
            executor.submit(campaign_id)
            executor.close()
            _wait(lambda: _sent(db, campaign_id) >= 100, 60, workers)
            with db.session() as session:  # the worker holds claims right now
                assert Progress.read(session, session.get(Campaign, campaign_id), utcnow()).running  # type: ignore[arg-type]
            resume = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dispatch",
                    "--config",
                    str(inline),
                    "campaigns",
                    "resume",
                    str(campaign_id),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert resume.returncode == 0, resume.stdout + resume.stderr
            _wait(lambda: _status(db, campaign_id) == CampaignStatus.SENT, 120, workers)
        finally:
            _stop(workers)
        received = server.handler.recipients()
    with db.session() as session:
        in_doubt = in_doubt_of(session, campaign_id)
    db.dispose()
    assert len(received) == 2_000 and set(received.values()) == {1}  # nobody twice
    assert in_doubt == 0


def test_celery_refuses_sqlite(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'd.db'}", {r'^kind = "inline".*$': 'kind = "celery"'}
    )
    with pytest.raises(config.ConfigError, match="needs a PostgreSQL database"):
        make_app(config.load(path))


def _smtp(smtp_port: int) -> dict[str, str]:
    return {
        r'^backend = "outbox".*$': 'backend = "smtp"',
        r"^port = 25$": f"port = {smtp_port}",
        r'^security = "starttls".*$': 'security = "none"',
        r"^pool_size = 2 .*$": "pool_size = 4",
        r"^concurrency = 2 .*$": "concurrency = 4",
    }


def _settings(folder: Path, url: str, smtp_port: int, broker_url: str) -> Settings:
    path = write_config(
        folder,
        url,
        {
            **_smtp(smtp_port),
            r'^kind = "inline".*$': 'kind = "celery"',
            r"^broker_url = .*$": f'broker_url = "{broker_url}"',
            r"^batch_size = 1000 .*recipients one batch.*$": "batch_size = 200",
            r"^claim_timeout_seconds = .*$": "claim_timeout_seconds = 8",
            r"^run_due_seconds = 30 .*$": "run_due_seconds = 1",
        },
    )
    return config.load(path)


def _prepare(settings: Settings, recipients: int = RECIPIENTS) -> Database:
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    add_subscribers(db, LIST, recipients)
    with db.session() as session:  # long-standing readers: the welcome series (every
        # list has the built-in step) is not due for them, so all mail is the campaign's
        session.execute(update(Subscription).values(confirmed_at=utcnow() - timedelta(days=90)))
    add_article(db, "big-story")
    return db


def _create(db: Database, settings: Settings, schedule: bool, recipients: int = RECIPIENTS) -> int:
    """Scheduled a second from now, or started at once."""
    now = utcnow()
    options = Options(at=now + timedelta(seconds=1)) if schedule else Options()
    with db.session() as session:
        created = create_article(session, settings, "big-story", LIST, now, options)
        if not schedule:
            assert start_campaign(session, created.campaign, settings, now) == recipients
        return created.campaign.id


def _purge(settings: Settings) -> None:
    """Tasks a previous, interrupted run left in the queue must not linger."""
    app = make_app(settings)
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=3)  # a missing broker fails the test
    app.control.purge()
    app.close()


def _worker(path: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return _dispatch(path, env, log, "worker", "--concurrency", "4")


def _dispatch(path: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dispatch", "--config", str(path), *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=out)


def _wait(done, seconds: float, alive: list[subprocess.Popen[bytes]]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not done():
        for process in alive:
            assert process.poll() is None, f"worker {process.pid} exited: {process.returncode}"
        assert time.monotonic() < deadline, f"not done within {seconds} s"
        time.sleep(0.2)


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        if process.poll() is None:
            process.terminate()
    for process in workers:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _sent(db: Database, campaign_id: int) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENT
                )
            )
            or 0
        )


def _status(db: Database, campaign_id: int) -> CampaignStatus:
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id, populate_existing=True)
        assert campaign is not None
        return CampaignStatus(campaign.status)
