"""Where started campaigns go with `executor.kind = "celery"`: batch tasks on the broker
(a real Redis, queue inspected directly), from the scheduler's job and from the admin."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from conftest import write_config
from dispatch import config, jobs
from dispatch.campaigns import Options, create_article
from dispatch.campaigns.claims import claim
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.executor import make_executor
from dispatch.executor.celery_app import QUEUE
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.jobs import JobContext
from dispatch.lists import sync_lists
from dispatch.metrics import Metrics
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus
from dispatch.web.sending import build_sending
from support.campaigns import FakeClock, add_article, add_subscribers
from support.services import postgresql_schema

BROKER = "redis://127.0.0.1:6379/3"  # a database of its own: its queue is counted here
LIST = "morning-briefing"
PEOPLE = 1_200


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "submit-test-secret")
    monkeypatch.delenv("DISPATCH_BROKER_URL", raising=False)


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(BROKER)
    client.flushdb()  # fails, never skips, when Redis is down
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def context(tmp_path: Path) -> Iterator[JobContext]:
    with postgresql_schema() as url:
        settings = _settings(tmp_path, url)
        db = Database(settings.database)
        migrate.upgrade(db.engine)
        with db.session() as session:
            sync_lists(session, settings)
        add_subscribers(db, LIST, PEOPLE)
        add_article(db, "big-story")
        engines = EngineContext(db, settings, metrics=Metrics(db), clock=FakeClock())
        jobs_context = JobContext(engines, make_executor(engines))
        yield jobs_context
        jobs_context.executor.close()
        db.dispose()


def test_the_admin_queues_a_started_campaign(context: JobContext, broker: redis.Redis) -> None:
    campaign_id = _campaign(context, start=True)
    sending = build_sending(context.engines, context)
    sending.submit(campaign_id)
    assert _status(context, campaign_id) == CampaignStatus.SENDING
    assert broker.llen(QUEUE) == math.ceil(PEOPLE / context.settings.executor.batch_size)
    assert isinstance(sending.inline, InlineExecutor)  # test sends still run here


def test_the_scheduler_starts_due_campaigns_and_requeues_idle_ones(
    context: JobContext, broker: redis.Redis
) -> None:
    clock = context.clock
    assert isinstance(clock, FakeClock)
    campaign_id = _campaign(context, start=False)
    clock.now += timedelta(seconds=5)
    run = jobs.Run(context, clock())
    assert jobs.run_due_campaigns(run=run) == 1
    assert _status(context, campaign_id) == CampaignStatus.SENDING
    assert broker.llen(QUEUE) == 2  # 1,200 people in batches of 1,000
    with context.db.session() as session:  # a worker claims a batch, then dies elsewhere
        campaign = session.get(Campaign, campaign_id)
        ttl = timedelta(seconds=context.settings.executor.claim_timeout_seconds)
        claim(session, campaign, "another-host:1:x", 1_200, clock(), ttl)  # type: ignore[arg-type]
    assert jobs.run_due_campaigns(run=run) == 0  # a live claim: a worker has it
    clock.now += ttl + timedelta(seconds=1)
    assert jobs.run_due_campaigns(run=jobs.Run(context, clock())) == 1  # its claim expired
    assert broker.llen(QUEUE) == 4


def test_inline_is_the_default(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}"))
    assert settings.executor.kind == "inline"
    assert settings.delivery.limiter_storage == "memory://"
    executor = make_executor(EngineContext(Database(settings.database), settings))
    assert isinstance(executor, InlineExecutor)
    executor.close()


def _settings(folder: Path, url: str) -> Settings:
    path = write_config(
        folder,
        url,
        {
            r'^kind = "inline".*$': 'kind = "celery"',
            r"^broker_url = .*$": f'broker_url = "{BROKER}"',
        },
    )
    return config.load(path)


def _campaign(context: JobContext, start: bool) -> int:
    now = context.clock()
    options = Options() if start else Options(at=now + timedelta(seconds=1))
    with context.db.session() as session:
        created = create_article(session, context.settings, "big-story", LIST, now, options)
        if start:
            start_campaign(session, created.campaign, context.settings, now)
        return created.campaign.id


def _status(context: JobContext, campaign_id: int) -> CampaignStatus:
    with context.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return CampaignStatus(campaign.status)
