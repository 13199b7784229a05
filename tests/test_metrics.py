"""GET /metrics in the Prometheus text format (parsed with prometheus_client's parser):
one registry per app, messages per sender, campaign progress, feed builds, scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dispatch import jobs
from dispatch.campaigns import Options, create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.executor.inline import drive
from dispatch.jobs import Run
from dispatch.scheduler import SchedulerService
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.campaigns import add_article, add_subscribers
from support.scheduling import wait_for

LIST = "morning-briefing"


TOKEN = "metrics-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "metrics-test-secret")
    monkeypatch.setenv("DISPATCH_METRICS_TOKEN", TOKEN)


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def started_campaign(db: Database, settings: Settings, people: int) -> int:
    add_subscribers(db, LIST, people)
    add_article(db, "gauges")
    with db.session() as session:
        created = create_article(session, settings, "gauges", LIST, utcnow(), Options())
        start_campaign(session, created.campaign, settings, utcnow())
        return created.campaign.id


def test_each_app_has_its_own_registry(db: Database, settings: Settings) -> None:
    first, second = create_app(settings, db), create_app(settings, db)
    assert first.state.metrics.registry is not second.state.metrics.registry
    first.state.metrics.sent.labels("memory").inc(3)
    with TestClient(first) as one, TestClient(second) as two:
        assert scrape(one)[("dispatch_messages_sent_total", (("sender", "memory"),))] == 3
        assert ("dispatch_messages_sent_total", (("sender", "memory"),)) not in scrape(two)


def test_campaign_progress_and_messages_per_sender(db: Database, settings: Settings) -> None:
    campaign_id = started_campaign(db, settings, 6)
    app = create_app(settings, db)
    labels = (("campaign", str(campaign_id)), ("list", LIST))
    with TestClient(app) as client:
        before = scrape(client)
        assert before[("dispatch_campaign_recipients", (*labels, ("status", "pending")))] == 6
        assert before[("dispatch_campaigns", (("status", "sending"),))] == 1
        sender = MemorySender()
        sender.fail("user0@example.com")
        engines = app.state.sending.jobs.engines  # counts in the app's metrics
        drive(engines, engines.engine(sender), campaign_id, wait=False)
        after = scrape(client)
    assert after[("dispatch_messages_sent_total", (("sender", "memory"),))] == 5
    assert after[("dispatch_messages_failed_total", (("sender", "memory"),))] == 1
    assert after[("dispatch_campaigns", (("status", "sent"),))] == 1
    assert not [key for key in after if key[0] == "dispatch_campaign_recipients"]  # finished


def test_feed_builds_scheduler_lag_and_health(db: Database, settings: Settings) -> None:
    app = create_app(settings, db)
    context = app.state.sending.jobs  # the app's job context (its metrics, its executor)
    jobs.refresh_feeds(run=Run(context, datetime.now(UTC)))
    service = SchedulerService(context)
    service.start()
    app.state.scheduler = service
    registry = app.state.metrics.registry
    lag = ("dispatch_scheduler_lag_seconds_count", {"job": "campaigns"})
    try:
        wait_for(lambda: registry.get_sample_value(*lag), what="the run-due job at start")
        with TestClient(app) as client:
            samples = scrape(client)
            health = client.get("/healthz", headers=BEARER).json()
    finally:
        service.stop(timeout=30)
    assert samples[("dispatch_feed_builds_total", (("trigger", "interval"),))] == 1
    assert samples[("dispatch_feed_files_changed_total", ())] > 0
    assert samples[("dispatch_scheduler_running", ())] == 1
    assert samples[("dispatch_scheduler_lag_seconds_count", (("job", "campaigns"),))] >= 1
    assert health["status"] == "ok" and health["scheduler"]["state"] == "running"
    assert health["scheduler"]["jobs"] == 9
