"""Polling upstream feeds against a loopback HTTP server: statuses, back-off, imports."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from conftest import DATA
from dispatch.config import Settings, UpstreamSettings, UpstreamSourceSettings
from dispatch.ingest.upstream import Outcome, poll_all, poll_source
from dispatch.store.database import Database
from dispatch.store.models import Article, UpstreamSource, UpstreamStatus
from support.upstream_server import FeedServer, Reply, feed, feed_server, redirect

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
WORDPRESS = (DATA / "upstream" / "wordpress.xml").read_bytes()
ATOM = (DATA / "upstream" / "atom.xml").read_bytes()
WORDPRESS_IDS = {
    "harbour:https://harbour.example.org/?p=1204",
    "harbour:https://harbour.example.org/?p=1198",
    "harbour:https://harbour.example.org/?p=1180",
    "harbour:https://harbour.example.org/2026/02/harbour-master-interview/",
}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def configure(settings: Settings, *sources: dict[str, Any], **upstream: Any) -> Settings:
    """`settings` with these `[[upstream.sources]]` (and `[upstream]` keys)."""
    configured = tuple(UpstreamSourceSettings(**source) for source in sources)
    return settings.model_copy(
        update={"upstream": UpstreamSettings(sources=configured, **upstream)}
    )


def harbour(
    settings: Settings, server: FeedServer, path: str = "/feed/", **upstream: Any
) -> Settings:
    source = {"url": server.url(path), "section": "technology", "name": "harbour"}
    return configure(settings, source, **upstream)


def articles(db: Database) -> dict[str, Article]:
    with db.session() as session:
        rows = session.scalars(select(Article).where(Article.source == "upstream")).all()
        return {row.source_id: row for row in rows}


def state(db: Database, key: str = "harbour") -> UpstreamSource:
    with db.session() as session:
        row = session.scalar(select(UpstreamSource).where(UpstreamSource.key == key))
        assert row is not None
        return row


def test_first_poll_imports_entries_and_a_repoll_sends_validators_and_gets_304(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", feed(WORDPRESS))
    settings = harbour(settings, server)

    first = poll_all(db, settings, now=clock)
    [result] = first.results
    assert (result.outcome, result.http_status, result.new, result.updated) == (
        Outcome.FETCHED, 200, 4, 0,
    )  # fmt: skip
    stored = articles(db)
    assert set(stored) == WORDPRESS_IDS  # the duplicate guid and the unidentifiable item: not
    ferry = stored["harbour:https://harbour.example.org/?p=1204"]
    assert ferry.title == "The Night Ferry\u2019s Last Crossing"
    assert ferry.section == "technology"
    assert ferry.author == "Maren Holt"
    assert ferry.canonical_url == "https://harbour.example.org/2026/03/night-ferry-last-crossing/"
    assert ferry.published_at == datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    assert "<script" not in ferry.body_html and "trackRead" not in ferry.body_html
    assert (
        'href="https://harbour.example.org/2026/03/night-ferry-last-crossing/timetable-1985.pdf"'
        in ferry.body_html
    )
    assert 'href="https://harbour.example.org/2026/02/harbour-master-interview/"' in ferry.body_html
    assert (
        'src="https://harbour.example.org/wp-content/uploads/2026/03/ferry-dusk-1024x683.jpg"'
        in ferry.body_html
    )
    assert ferry.body_text.startswith("After forty-one years")
    slow = stored["harbour:https://harbour.example.org/?p=1198"]
    assert slow.title == "Why slow boats still win"
    assert slow.author == "Tom\u00e1s Reid"
    tides = stored["harbour:https://harbour.example.org/?p=1180"]
    assert tides.title == "Tides & tables: a winter guide"  # first of the two with this guid
    assert tides.published_at == T0  # no date in the feed: first seen
    row = state(db)
    assert (row.etag, row.last_modified) == ('"v1"', "Tue, 03 Mar 2026 09:12:44 GMT")
    assert row.next_poll_at == T0 + timedelta(minutes=30)

    clock.advance(minutes=10)
    assert poll_all(db, settings, now=clock).results == []  # not due yet
    clock.advance(minutes=25)
    [again] = poll_all(db, settings, now=clock).results
    assert again.outcome is Outcome.NOT_MODIFIED and again.http_status == 304
    sent = server.hits("/feed/")[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Tue, 03 Mar 2026 09:12:44 GMT"
    assert len(server.hits("/feed/")) == 2
    after = articles(db)
    assert {k: (a.updated_at, a.content_hash) for k, a in after.items()} == {
        k: (a.updated_at, a.content_hash) for k, a in stored.items()
    }
    assert state(db).next_poll_at == clock.now + timedelta(minutes=30)


def test_repolling_unchanged_content_without_validators_changes_nothing(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", feed(WORDPRESS, etag=None, last_modified=None))
    settings = harbour(settings, server)
    poll_all(db, settings, now=clock)
    before = articles(db)
    clock.advance(hours=1)

    [result] = poll_all(db, settings, now=clock).results

    assert result.outcome is Outcome.FETCHED and result.http_status == 200
    assert (result.new, result.updated, result.unchanged) == (0, 0, 4)
    assert "if-none-match" not in server.hits("/feed/")[-1].headers
    after = articles(db)
    for key, article in after.items():
        old = before[key]
        assert (article.uid, article.slug, article.published_at, article.updated_at) == (
            old.uid, old.slug, old.published_at, old.updated_at,
        )  # fmt: skip


def test_an_edited_entry_updates_its_article(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", feed(WORDPRESS))
    settings = harbour(settings, server)
    poll_all(db, settings, now=clock)
    key = "harbour:https://harbour.example.org/?p=1198"
    undated = "harbour:https://harbour.example.org/?p=1180"
    before = articles(db)
    edited = WORDPRESS.replace(b"wait for water.", b"wait for water. (Updated: and in fog.)")
    edited = edited.replace(
        b"<pubDate>Mon, 02 Mar 2026 18:05:12", b"<pubDate>Wed, 04 Mar 2026 07:00:00"
    )
    server.serve("/feed/", feed(edited, etag='"v2"'))
    clock.advance(hours=1)

    [result] = poll_all(db, settings, now=clock).results

    assert (result.new, result.updated, result.unchanged) == (0, 1, 3)
    after = articles(db)
    article = after[key]
    assert "and in fog" in article.body_text
    assert article.uid == before[key].uid and article.slug == before[key].slug
    assert article.published_at == before[key].published_at  # the first date is kept
    assert article.updated_at == clock.now != before[key].updated_at
    assert after[undated].published_at == T0 and after[undated].updated_at == T0
    assert state(db).etag == '"v2"'


def test_atom_entries_resolve_links_against_xml_base(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/notebook.atom", feed(ATOM, content_type="application/atom+xml"))
    source = {"url": server.url("/notebook.atom"), "section": "Science"}
    settings = configure(settings, source)

    [result] = poll_all(db, settings, now=clock).results

    assert result.key == server.url("/notebook.atom")  # no name: the URL is the key
    assert result.new == 3
    stored = articles(db)
    prefix = f"{server.url('/notebook.atom')}:tag:lab.example.net,2026:"
    gauges = stored[prefix + "notebook/41"]
    assert gauges.title == "Calibrating the tide-gauge array"
    assert gauges.section == "science"
    assert gauges.canonical_url == "https://lab.example.net/notebook/2026/calibrating-tide-gauges"
    assert gauges.published_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert 'src="https://lab.example.net/notebook/2026/img/gauge-array.png"' in gauges.body_html
    assert 'href="https://lab.example.net/notebook/data/tides-2026-03.csv"' in gauges.body_html
    assert gauges.tags == ["instruments"]
    ulva = stored[prefix + "notebook/40"]
    assert ulva.title == "Notes on Ulva growth"
    assert ulva.published_at == datetime(2026, 2, 20, 12, 0, tzinfo=UTC)  # only <updated>
    assert 'href="https://lab.example.net/notebook/2026/ulva-growth#table-2"' in ulva.body_html
    assert 'href="https://lab.example.net/people/"' in ulva.body_html
    open_day = stored[prefix + "events/open-day"]
    assert open_day.image == "https://lab.example.net/events/open-day/poster.jpg"
    assert "<b>14 March</b>" in open_day.body_html


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_updates_the_stored_url(
    db: Database, settings: Settings, server: FeedServer, clock: Clock, status: int
) -> None:
    server.serve("/old-feed", redirect(status, server.url("/feed/")))
    server.serve("/feed/", feed(WORDPRESS))
    settings = harbour(settings, server, "/old-feed")

    [result] = poll_all(db, settings, now=clock).results

    assert result.outcome is Outcome.FETCHED and result.new == 4
    assert result.moved_to == server.url("/feed/")
    row = state(db)
    assert row.url == server.url("/feed/") and row.config_url == server.url("/old-feed")
    clock.advance(hours=1)
    [again] = poll_all(db, settings, now=clock).results
    assert again.url == server.url("/feed/") and again.outcome is Outcome.NOT_MODIFIED
    assert len(server.hits("/old-feed")) == 1


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_is_followed_but_the_url_kept(
    db: Database, settings: Settings, server: FeedServer, clock: Clock, status: int
) -> None:
    server.serve("/feed/", redirect(status, server.url("/mirror.xml")))
    server.serve("/mirror.xml", feed(WORDPRESS))
    settings = harbour(settings, server)

    [result] = poll_all(db, settings, now=clock).results

    assert result.outcome is Outcome.FETCHED and result.new == 4 and result.moved_to is None
    assert state(db).url == server.url("/feed/")


def test_410_retires_the_feed(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", Reply(410, b"gone"))
    settings = harbour(settings, server)

    [result] = poll_all(db, settings, now=clock).results

    assert result.outcome is Outcome.RETIRED and result.http_status == 410
    row = state(db)
    assert row.status is UpstreamStatus.RETIRED and row.next_poll_at is None
    assert "410 Gone" in (row.last_error or "")
    clock.advance(days=3)
    assert poll_all(db, settings, now=clock).results == []
    assert poll_all(db, settings, now=clock, due_only=False).results == []
    assert len(server.hits("/feed/")) == 1
    server.serve("/feed/", feed(WORDPRESS))  # the operator asks for it by name: it is back
    assert poll_source(db, settings, settings.upstream.sources[0], now=clock).new == 4
    assert state(db).status is UpstreamStatus.ACTIVE


def test_500_backs_off_exponentially_up_to_the_bound_then_recovers(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", Reply(500, b"Internal Server Error"))
    settings = harbour(settings, server, max_backoff_hours=3)

    waits = []
    for _ in range(4):
        [result] = poll_all(db, settings, now=clock).results
        assert result.outcome is Outcome.FAILED and result.http_status == 500
        row = state(db)
        waits.append(row.next_poll_at - clock.now)
        assert poll_all(db, settings, now=clock).results == []  # not due again at once
        clock.now = row.next_poll_at

    assert waits == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3), timedelta(hours=3)]
    assert state(db).failures == 4
    assert "HTTP 500" in (state(db).last_error or "")
    server.serve("/feed/", feed(WORDPRESS))
    [result] = poll_all(db, settings, now=clock).results
    assert result.outcome is Outcome.FETCHED and result.new == 4
    row = state(db)
    assert (row.failures, row.last_error) == (0, None)
    assert row.next_poll_at == clock.now + timedelta(minutes=30)


def test_retry_after_asks_for_a_longer_wait(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", Reply(503, b"busy", {"Retry-After": "10800"}))
    settings = harbour(settings, server)

    poll_all(db, settings, now=clock)

    assert state(db).next_poll_at == T0 + timedelta(hours=3)


def test_a_slow_response_is_an_error_not_a_hang(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", Reply(200, WORDPRESS, {"Content-Type": "application/rss+xml"}, 30))
    settings = harbour(settings, server, timeout=0.5)

    started = time.monotonic()
    [result] = poll_all(db, settings, now=clock).results

    assert time.monotonic() - started < 5
    assert result.outcome is Outcome.FAILED and "timeout" in (result.error or "")
    assert state(db).failures == 1 and articles(db) == {}


def test_a_body_that_trickles_in_beyond_the_timeout_is_an_error(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    headers = {"Content-Type": "application/rss+xml"}
    server.serve("/feed/", Reply(200, WORDPRESS, headers, drip=0.1))  # ~5 s in all
    settings = harbour(settings, server, timeout=1)

    started = time.monotonic()
    [result] = poll_all(db, settings, now=clock).results

    assert time.monotonic() - started < 3
    assert result.outcome is Outcome.FAILED
    assert "took longer than 1 s" in (result.error or "")


def test_a_page_that_is_not_a_feed_is_an_error(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    page = (DATA / "upstream" / "not-a-feed.html").read_bytes()
    server.serve("/feed/", Reply(200, page, {"Content-Type": "text/html; charset=utf-8"}))
    settings = harbour(settings, server)

    [result] = poll_all(db, settings, now=clock).results

    assert result.outcome is Outcome.FAILED and result.http_status == 200
    assert "not an RSS, Atom or JSON feed (served as text/html" in (result.error or "")
    assert state(db).failures == 1


def test_a_bad_feed_never_blocks_the_others(
    db: Database, settings: Settings, server: FeedServer, clock: Clock, caplog: Any
) -> None:
    server.serve("/broken", Reply(500))
    server.serve("/slow", Reply(200, WORDPRESS, {}, 30))
    server.serve("/feed/", feed(WORDPRESS))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/feed"
    sources = [
        {"url": server.url("/broken"), "section": "world", "name": "broken"},
        {"url": dead, "section": "world", "name": "dead"},
        {"url": server.url("/slow"), "section": "world", "name": "slow"},
        {"url": server.url("/feed/"), "section": "technology", "name": "harbour"},
        {"url": server.url("/never"), "section": "world", "name": "off", "enabled": False},
    ]
    settings = configure(settings, *sources, timeout=0.5)

    with caplog.at_level(logging.INFO, logger="dispatch.ingest.upstream"):
        report = poll_all(db, settings, now=clock)

    outcomes = {result.key: result.outcome for result in report.results}
    assert outcomes == {
        "broken": Outcome.FAILED,
        "dead": Outcome.FAILED,
        "slow": Outcome.FAILED,
        "harbour": Outcome.FETCHED,
    }
    assert (report.new, len(report.failed), report.changed) == (4, 3, True)
    assert set(articles(db)) == WORDPRESS_IDS
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream polled")]
    assert len(lines) == 4
    assert any(
        "source=harbour" in line and "status=fetched" in line and "new=4 updated=0" in line
        for line in lines
    )
    assert server.hits("/never") == []


def test_changing_the_configured_url_starts_the_feed_afresh(
    db: Database, settings: Settings, server: FeedServer, clock: Clock
) -> None:
    server.serve("/feed/", Reply(410))
    poll_all(db, harbour(settings, server), now=clock)
    server.serve("/v2/feed/", feed(WORDPRESS))

    [result] = poll_all(db, harbour(settings, server, "/v2/feed/"), now=clock).results

    assert result.outcome is Outcome.FETCHED and result.new == 4
    row = state(db)
    assert (row.status, row.url, row.failures) == (
        UpstreamStatus.ACTIVE, server.url("/v2/feed/"), 0,
    )  # fmt: skip
