"""Prometheus metrics (prometheus-client), one `CollectorRegistry` per app: nothing global.

Counted in the process that does the work (with `dispatch serve`, the same process as
`/metrics`): messages sent / failed per sender, feed builds, upstream polls, scheduler
lag (how late a job started after its scheduled time). Read from the database at each
scrape, so any process can serve them: recipients per delivery status of every
campaign that is sending or paused, and campaigns per status.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from dispatch.campaigns.lifecycle import ACTIVE
from dispatch.store.database import Database
from dispatch.store.models import Campaign, Delivery, MailingList

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 6 * 3600)


class Metrics:
    """The metrics of one process, registered in their own registry."""

    def __init__(self, database: Database | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sent = Counter(
            "dispatch_messages_sent", "Messages the provider accepted.", ["sender"], registry=r
        )
        self.failed = Counter(
            "dispatch_messages_failed",
            "Messages that failed permanently or ran out of retries.",
            ["sender"],
            registry=r,
        )
        self.feed_builds = Counter(
            "dispatch_feed_builds", "Feed builds, by what set them off.", ["trigger"], registry=r
        )
        self.feed_files_changed = Counter(
            "dispatch_feed_files_changed", "Feed files rewritten because they changed.", registry=r
        )
        self.upstream_polls = Counter(
            "dispatch_upstream_polls", "Rounds of upstream feed polling.", ["result"], registry=r
        )
        self.clicks_not_counted = Counter(
            "dispatch_clicks_not_counted",
            "Tracked-link clicks redirected but not counted (the store was busy or down).",
            registry=r,
        )
        self.scheduler_lag = Histogram(
            "dispatch_scheduler_lag_seconds",
            "How late a scheduled job started after its scheduled time.",
            ["job"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.scheduler_running = Gauge(
            "dispatch_scheduler_running", "1 while this process runs the scheduler.", registry=r
        )
        if database is not None:
            r.register(CampaignCollector(database))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CampaignCollector(Collector):
    """Reads campaign progress from the database at scrape time."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        recipients = GaugeMetricFamily(
            "dispatch_campaign_recipients",
            "Recipients of each sending or paused campaign, by delivery status.",
            labels=["campaign", "list", "status"],
        )
        campaigns = GaugeMetricFamily(
            "dispatch_campaigns", "Campaigns by status.", labels=["status"]
        )
        with self.database.session() as session:
            for status, count in session.execute(
                select(Campaign.status, func.count()).group_by(Campaign.status)
            ):
                campaigns.add_metric([str(status.value)], int(count))
            rows = session.execute(
                select(Campaign.id, MailingList.slug, Delivery.status, func.count())
                .join(MailingList, MailingList.id == Campaign.list_id)
                .join(Delivery, Delivery.campaign_id == Campaign.id)
                .where(Campaign.status.in_(list(ACTIVE)))
                .group_by(Campaign.id, MailingList.slug, Delivery.status)
            )
            for campaign_id, slug, status, count in rows:
                recipients.add_metric([str(campaign_id), slug, str(status.value)], int(count))
        yield campaigns
        yield recipients

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected live: do not query the database at registration
