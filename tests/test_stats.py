"""Subscriber growth and recent campaigns (`dispatch.stats`): the numbers per day and week,
the inline SVG charts and their accessible values, formula-safe CSV, the dashboard, the
CSV routes and `dispatch stats`."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.stats.charts import campaigns_chart, growth_chart
from dispatch.stats.csv_export import campaigns_csv, growth_csv, neutralise
from dispatch.stats.growth import growth
from dispatch.stats.recent import recent_campaigns
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignKind,
    CampaignLink,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app

LIST = "morning-briefing"
NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)  # a Thursday; the site's zone is Europe/London
SVG = "{http://www.w3.org/2000/svg}"
# (day offset from NOW, subscribed, unsubscribed later that many days after, or None)
PEOPLE = [(0, None), (0, 0), (-1, None), (-1, None), (-1, None), (-3, -2), (-9, None), (-40, -1)]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "stats-secret")


def populate(db: Database, around: datetime = NOW) -> None:
    """PEOPLE on the list, and two campaigns (a hostile subject) with sends, bounces, clicks."""
    with db.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == LIST))
        for n, (joined, left) in enumerate(PEOPLE):
            at = around + timedelta(days=joined)
            person = Subscriber(email=f"s{n}@example.com", name="", attributes={})
            session.add(person)
            session.flush()
            gone = None if left is None else around + timedelta(days=left)
            status = (
                SubscriptionStatus.CONFIRMED if gone is None else SubscriptionStatus.UNSUBSCRIBED
            )
            session.add(
                Subscription(
                    subscriber_id=person.id,
                    list_id=list_id,
                    status=status,
                    confirmed_at=at,
                    unsubscribed_at=gone,
                    created_at=at,
                    updated_at=at,
                )
            )
        for n, (subject, sent, bounced, clicks) in enumerate(
            [('=HYPERLINK("http://x")', 3, 1, 5), ("Second issue", 2, 0, 0)]
        ):
            campaign = Campaign(
                list_id=list_id,
                kind=CampaignKind.ONE_OFF,
                status=CampaignStatus.SENT,
                subject=subject,
                started_at=around - timedelta(days=2 - n),
                recipients_total=sent,
            )
            session.add(campaign)
            session.flush()
            for i in range(sent):
                status = DeliveryStatus.BOUNCED if i < bounced else DeliveryStatus.SENT
                session.add(
                    Delivery(campaign_id=campaign.id, email=f"s{i}@example.com", status=status)
                )
            session.add(
                CampaignLink(
                    campaign_id=campaign.id, position=0, url="https://a.example", clicks=clicks
                )
            )
        session.add(  # welcome steps are not issues: left out of recent campaigns
            Campaign(
                list_id=list_id,
                kind=CampaignKind.WELCOME,
                status=CampaignStatus.SENT,
                subject="Welcome",
                started_at=around,
            )
        )


def test_growth_per_day_and_week(db: Database, settings: Settings) -> None:
    populate(db)
    with db.session() as session:
        days = growth(session, NOW, settings.site.timezone, "day", 5)
        weeks = growth(session, NOW, settings.site.timezone, "week", 3)
        only = growth(session, NOW, settings.site.timezone, "day", 5, "weekly-review")
    assert [(r.start, r.subscribed, r.unsubscribed, r.net) for r in days] == [
        (date(2026, 5, 10), 0, 0, 0),
        (date(2026, 5, 11), 1, 0, 1),
        (date(2026, 5, 12), 0, 1, -1),
        (date(2026, 5, 13), 3, 1, 2),
        (date(2026, 5, 14), 2, 1, 1),
    ]
    assert [(r.start, r.subscribed, r.unsubscribed) for r in weeks] == [
        (date(2026, 4, 27), 0, 0),
        (date(2026, 5, 4), 1, 0),  # 9 days back: Tuesday of the week before
        (date(2026, 5, 11), 6, 3),
    ]
    assert sum(r.subscribed for r in only) == 0
    with pytest.raises(ValueError, match="periods"):
        growth(session, NOW, "UTC", "day", 0)


def test_a_reader_who_leaves_and_comes_back_counts_each_time_where_it_happened(
    db: Database, settings: Settings
) -> None:
    """Through the real paths, a week apart each: sign up and confirm, unsubscribe by the
    mail's link, sign up and confirm again, leave on the preferences page, come back once
    more: each change counts once, in its own week, and the earlier weeks do not change
    afterwards."""
    from dispatch.store.models import SubscriptionStamp
    from dispatch.subscribers import optin
    from dispatch.tokens import ListClaim, PersonClaim

    weeks = [NOW - timedelta(weeks=4 - n) for n in range(5)]
    zone = settings.site.timezone

    def weekly(session: Session) -> list[tuple[int, int]]:
        rows = growth(session, NOW, zone, "week", 6)
        return [(r.subscribed, r.unsubscribed) for r in rows]

    with db.session() as session:
        (mail,) = optin.sign_up(session, "back@example.com", "", [LIST], weeks[0])
        key = session.get_one(Subscriber, mail.subscriber_id).token_key
        claim = ListClaim(mail.subscriber_id, LIST, key)
        assert optin.confirm(session, claim, weeks[0]).outcome == "confirmed"
    with db.session() as session:
        first = weekly(session)
        assert optin.unsubscribe(session, claim, weeks[1]) == "unsubscribed"
    with db.session() as session:
        optin.sign_up(session, "back@example.com", "", [LIST], weeks[2])
        assert optin.confirm(session, claim, weeks[2]).outcome == "confirmed"
    with db.session() as session:
        person = PersonClaim(mail.subscriber_id, key)
        optin.save_preferences(session, person, "", set(), [LIST], weeks[3])
    with db.session() as session:
        optin.sign_up(session, "back@example.com", "", [LIST], weeks[4])
        assert optin.confirm(session, claim, weeks[4]).outcome == "confirmed"
    with db.session() as session:
        kept = session.scalars(select(SubscriptionStamp.kind).order_by(SubscriptionStamp.at))
        assert list(kept) == ["subscribed", "unsubscribed", "subscribed"]
        counts = weekly(session)
    assert counts[-5:] == [(1, 0), (0, 1), (1, 0), (0, 1), (1, 0)]
    assert first[:2] == counts[:2]  # what a week showed stays as it was


def test_recent_campaigns_leave_out_tests_and_welcome_steps(db: Database) -> None:
    populate(db)
    with db.session() as session:
        found = recent_campaigns(session, 10)
    assert [(c.subject, c.sent, c.bounced, c.clicks) for c in found] == [
        ('=HYPERLINK("http://x")', 3, 1, 5),
        ("Second issue", 2, 0, 0),
    ]


def test_charts_carry_titles_and_the_values_drawn(db: Database, settings: Settings) -> None:
    populate(db)
    with db.session() as session:
        rows = growth(session, NOW, settings.site.timezone, "day", 5)
        recent = recent_campaigns(session, 10)
    svg = ET.fromstring(str(growth_chart(rows, "day")))
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "growth-title growth-desc"
    assert svg.find(f"{SVG}title").text == "Subscriber growth per day"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        "5 periods from 2026-05-10 to 2026-05-14: 6 subscribed, 3 unsubscribed, net +3."
    )
    values = {
        (el.get("data-series"), el.get("data-label")): int(el.get("data-value", "x"))
        for el in svg.iter()
        if el.get("data-value") is not None
    }
    assert values[("subscribed", "2026-05-13")] == 3
    assert values[("unsubscribed", "2026-05-12")] == 1
    assert values[("net", "2026-05-12")] == -1
    assert len(values) == 15
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "2026-05-13 · Subscribed: 3" in titles and "2026-05-12 · Net: -1" in titles
    chart = campaigns_chart(recent)
    parsed = ET.fromstring(str(chart))  # well-formed: the hostile subject is escaped
    labels = [el.get("data-label") for el in parsed.iter() if el.get("data-series") == "sent"]
    assert labels[1].endswith('=HYPERLINK("http://x")')  # type: ignore[union-attr]
    clicks = [el.get("data-value") for el in parsed.iter() if el.get("data-series") == "clicks"]
    assert clicks == [None, "5", "0"]  # the group, then its bars
    assert campaigns_chart([]) is None


def test_csv_is_formula_safe_and_keeps_numbers(db: Database, settings: Settings) -> None:
    populate(db)
    with db.session() as session:
        rows = growth(session, NOW, settings.site.timezone, "day", 5)
        recent = recent_campaigns(session, 10)
    parsed = list(csv.reader(io.StringIO(growth_csv(rows))))
    assert parsed[0] == ["period_start", "subscribed", "unsubscribed", "net"]
    assert parsed[3] == ["2026-05-12", "0", "1", "-1"]  # a count, not a formula
    campaigns = list(csv.reader(io.StringIO(campaigns_csv(recent))))
    assert campaigns[1][2] == '\'=HYPERLINK("http://x")'
    for risky in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(risky) == "'" + risky
    assert neutralise(-1) == "-1" and neutralise("Zoë") == "Zoë" and neutralise(None) == ""


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    populate(db)
    app = auth_app(settings, db, Sleeps(), clock=lambda: NOW)
    with TestClient(app, follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def test_dashboard_and_csv_routes(admin: Admin) -> None:
    page = admin.get("/admin?by=week&periods=3")
    assert page.status_code == 200
    assert 'data-chart="growth"' in page.text and 'data-chart="campaigns"' in page.text
    assert 'data-series="subscribed" data-label="2026-05-11" data-value="6"' in page.text
    assert "<script" not in page.text.split('data-chart="growth"')[1].split("</svg>")[0]
    assert "=HYPERLINK(&#34;http://x&#34;)" in page.text or "=HYPERLINK(&quot;" in page.text
    growth_csv_ = admin.get("/admin/stats/growth.csv?by=day&periods=5")
    assert growth_csv_.status_code == 200
    assert growth_csv_.headers["content-type"].startswith("text/csv")
    assert "attachment" in growth_csv_.headers["content-disposition"]
    assert growth_csv_.text.splitlines()[-1] == "2026-05-14,2,1,1"
    campaigns = admin.get("/admin/stats/campaigns.csv")
    assert "'=HYPERLINK" in campaigns.text
    for bad in ("by=month", "periods=0", "periods=9999", "periods=abc"):
        assert admin.get(f"/admin?{bad}").status_code == 400
        assert admin.get(f"/admin/stats/growth.csv?{bad}").status_code == 400
    admin.client.cookies.clear()
    assert admin.get("/admin/stats/growth.csv").status_code in (303, 401, 403)


def test_the_cli_prints_tables_and_csv(db: Database, cli) -> None:  # type: ignore[no-untyped-def]
    populate(db)
    shown = cli("stats", "--by", "week", "--periods", "3")
    assert shown.exit_code == 0, shown.output
    assert "Growth per week" in shown.output and "Recent campaigns" in shown.output
    assert "Second issue" in shown.output
    as_csv = cli("stats", "--csv", "--periods", "400")
    assert as_csv.exit_code != 0
    as_csv = cli("stats", "--csv", "--only", "campaigns")
    assert as_csv.exit_code == 0 and "'=HYPERLINK" in as_csv.output
    assert as_csv.output.splitlines()[0] == "campaign,list,subject,started_at,sent,bounced,clicks"
    bad = cli("stats", "--by", "month")
    assert bad.exit_code != 0 and "day" in bad.output
    unknown = cli("stats", "--list", "nope")
    assert unknown.exit_code != 0 and 'no list "nope"' in unknown.output
