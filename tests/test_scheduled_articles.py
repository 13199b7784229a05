"""Scheduled articles, by time travel (an injected clock, never sleeps): out of every feed,
page, sitemap and digest until their time; then the scheduler publishes them (feeds
rebuilt, hubs pinged, the list's sends made once) and the next digest carries them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch import jobs
from dispatch.campaigns.create import create_digest, plan_digest
from dispatch.config import Settings
from dispatch.errors import ScheduleError
from dispatch.ingest import Action, import_paths
from dispatch.ingest.articles import schedule, unschedule
from dispatch.jobs import Run
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus, Campaign, CampaignKind
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.campaigns import FakeClock, add_subscribers
from support.feeds import hub_server
from support.scheduling import job_context, senders, settle

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "scheduled-articles-secret")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _status(db: Database, slug: str) -> ArticleStatus:
    with db.session() as session:
        return session.scalars(select(Article.status).where(Article.slug == slug)).one()


def _feed_titles(settings: Settings, path: str = "rss.xml") -> list[str]:
    parsed = feedparser.parse((settings.feeds.public_dir / path).read_bytes())
    return [entry.title for entry in parsed.entries]


def test_a_scheduled_article_appears_only_after_its_time(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    with hub_server() as hub:
        settings = settings.model_copy(
            update={"feeds": settings.feeds.model_copy(update={"hubs": (hub.url,)})}
        )
        start = utcnow().replace(microsecond=0)
        clock = FakeClock(start)
        later = start + timedelta(hours=2)
        people = add_subscribers(db, LIST, 5)
        _write(
            tmp_path,
            "old.md",
            "---\ntitle: Old news\nsection: world\n"
            f"date: {(start - timedelta(days=1)).isoformat()}\n---\nOld.\n",
        )
        _write(
            tmp_path,
            "embargo.md",
            f"---\ntitle: Embargoed report\nsection: world\ndate: {later.isoformat()}\n"
            f"send_to: [{LIST}]\n---\nUnder embargo until eleven.\n",
        )
        report = import_paths(db, settings, [tmp_path], now=clock)
        assert report.ok, report.failed
        assert _status(db, "embargoed-report") is ArticleStatus.SCHEDULED

        context = job_context(db, settings, clock)
        assert jobs.publish_scheduled(run=Run(context, clock.now)) == []
        jobs.refresh_feeds(run=Run(context, clock.now))
        assert _feed_titles(settings) == ["Old news"]
        site = json.loads((settings.feeds.public_dir / "feed.json").read_bytes())
        assert [item["title"] for item in site["items"]] == ["Old news"]
        rss = feedparser.parse((settings.feeds.public_dir / "rss.xml").read_bytes())
        assert rss.feed.updated_parsed[:6] <= clock.now.timetuple()[:6]  # never ahead
        with TestClient(create_app(settings, db, clock=clock)) as client:
            assert client.get("/articles/embargoed-report").status_code == 404
            assert "Embargoed" not in client.get("/").text
            assert "embargoed-report" not in client.get("/sitemap.xml").text
        with db.session() as session:
            assert [a.slug for a in plan_digest(session, settings, LIST, clock.now).articles] == [
                "old-news"
            ]
        pings_before = len(hub.pings)

        clock.now = later + timedelta(seconds=20)  # the scheduler's next run after 11:00
        assert jobs.publish_scheduled(run=Run(context, clock.now)) == ["embargoed-report"]
        assert _status(db, "embargoed-report") is ArticleStatus.PUBLISHED
        assert _feed_titles(settings) == ["Embargoed report", "Old news"]
        assert len(hub.pings) > pings_before  # WebSub told about the rebuilt feeds
        with TestClient(create_app(settings, db, clock=clock)) as client:
            assert client.get("/articles/embargoed-report").status_code == 200
            assert "embargoed-report" in client.get("/sitemap.xml").text
        # the per-article send went out once, and a second run sends nothing again
        settle(context)
        assert senders(context).recipients() == {p: 1 for p in people}
        assert jobs.publish_scheduled(run=Run(context, clock.now)) == []
        with db.session() as session:
            one_offs = session.scalars(
                select(Campaign.period_key).where(Campaign.kind == CampaignKind.ONE_OFF)
            ).all()
            assert len(one_offs) == 1 and one_offs[0].startswith("article:")
            # the next digest leaves out what the list already got as a one-off …
            plan = plan_digest(session, settings, LIST, clock.now, since=start - timedelta(days=2))
            assert [a.slug for a in plan.articles] == ["old-news"]
            assert [a.slug for a in plan.left_out] == ["embargoed-report"]
            # … unless the editor includes it
            plan = plan_digest(
                session,
                settings,
                LIST,
                clock.now,
                since=start - timedelta(days=2),
                include=["embargoed-report"],
            )
            assert [a.slug for a in plan.articles] == ["embargoed-report", "old-news"]


def test_the_next_digest_after_its_time_carries_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    start = utcnow().replace(microsecond=0)
    clock = FakeClock(start)
    when = start + timedelta(minutes=30)
    _write(
        tmp_path,
        "a.md",
        f"---\ntitle: Later\nsection: world\nstatus: scheduled\ndate: {when.isoformat()}\n---\nx\n",
    )
    assert import_paths(db, settings, [tmp_path], now=clock).ok
    with db.session() as session:
        assert (
            create_digest(session, settings, plan_digest(session, settings, LIST, clock.now))
            is None
        )
    clock.now = when + timedelta(seconds=1)  # the scheduler has not run yet: still carried
    with db.session() as session:
        created = create_digest(session, settings, plan_digest(session, settings, LIST, clock.now))
        assert created is not None and created.campaign.subject.endswith("Later")
    with db.session() as session:
        files = build_feeds(session, settings, clock.now)
        assert b"Later" in next(f for f in files if f.path == "rss.xml").content


def test_schedule_reschedule_unschedule_and_the_past(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    now = utcnow()
    _write(tmp_path, "d.md", "---\ntitle: Draft piece\nstatus: draft\n---\nx\n")
    assert import_paths(db, settings, [tmp_path]).ok
    with db.session() as session:
        with pytest.raises(ScheduleError, match="is in the past"):
            schedule(session, "draft-piece", now - timedelta(minutes=1), now)
        article = schedule(session, "draft-piece", now + timedelta(days=1), now)
        assert article.status is ArticleStatus.SCHEDULED
        moved = schedule(session, "draft-piece", now + timedelta(days=2), now)
        assert moved.published_at == now + timedelta(days=2)
        assert unschedule(session, "draft-piece", now).status is ArticleStatus.DRAFT
        with pytest.raises(ScheduleError, match="not scheduled"):
            unschedule(session, "draft-piece", now)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            "status: scheduled\ndate: 2020-01-01 09:00",
            "date: 2020-01-01T09:00:00+00:00 is in the past",
        ),
        ("status: scheduled", "status: scheduled needs a `date:`"),
    ],
)
def test_a_file_scheduled_in_the_past_is_refused_and_nothing_is_written(
    db: Database, settings: Settings, tmp_path: Path, front: str, message: str
) -> None:
    path = _write(tmp_path, "late.md", f"---\ntitle: Late\n{front}\n---\nx\n")
    report = import_paths(db, settings, [path])
    (error,) = report.failed
    assert message in error.reason and error.path == path
    with db.session() as session:
        assert session.scalars(select(Article)).all() == []


def test_an_article_already_out_keeps_its_schedule_on_reimport(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    start = utcnow().replace(microsecond=0)
    clock = FakeClock(start)
    when = start + timedelta(hours=1)
    path = _write(
        tmp_path,
        "s.md",
        f"---\ntitle: Timed\nstatus: scheduled\ndate: {when.isoformat()}\n---\nx\n",
    )
    assert import_paths(db, settings, [path], now=clock).ok
    clock.now = when + timedelta(hours=1)
    jobs.publish_scheduled(run=Run(job_context(db, settings, clock), clock.now))
    path.write_text(path.read_text().replace("x\n", "x, corrected\n"), encoding="utf-8")
    report = import_paths(db, settings, [path], now=clock)
    assert [item.action for item in report.imported] == [Action.UPDATED]
    assert _status(db, "timed") is ArticleStatus.PUBLISHED


def test_api_schedules_and_unschedules(db: Database, settings: Settings) -> None:
    from support.api import api_client

    with api_client(settings, db, "articles:write", "articles:read") as client:
        created = client.post(
            "/api/articles", json={"title": "Via API", "body_markdown": "x", "status": "draft"}
        )
        assert created.status_code == 201
        at = (utcnow() + timedelta(days=1)).isoformat()
        scheduled = client.post("/api/articles/via-api/schedule", json={"at": at})
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["status"] == "scheduled"
        past = client.post("/api/articles/via-api/schedule", json={"at": "2020-01-01T00:00:00Z"})
        assert past.status_code == 422 and "in the past" in past.json()["error"]["message"]
        assert past.json()["error"]["field"] == "body.at"
        edited = client.patch("/api/articles/via-api", json={"summary": "Still scheduled."})
        assert edited.json()["status"] == "scheduled"
        back = client.delete("/api/articles/via-api/schedule")
        assert back.status_code == 200 and back.json()["status"] == "draft"
        future = (utcnow() + timedelta(hours=3)).isoformat()
        dated = client.post(
            "/api/articles", json={"title": "Dated", "body_markdown": "x", "date": future}
        )
        assert dated.json()["status"] == "scheduled"
