"""Upstream feeds as real platforms serve them, from a loopback server: a WordPress feed
cut off mid-item must not shorten anything, Medium's pixel goes, YouTube descriptions
stay text, GitHub avatars are not lead images, Substack prompts go and its video
becomes a link, JSON Feed is read, and an editor's deletion sticks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from conftest import DATA
from dispatch.config import Settings, UpstreamSettings, UpstreamSourceSettings
from dispatch.ingest.articles import delete_article
from dispatch.ingest.upstream import Outcome, poll_source
from dispatch.store.database import Database
from dispatch.store.models import Article, UpstreamSource, UpstreamStatus
from support.upstream_server import FeedServer, feed, feed_server

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
UPSTREAM = DATA / "upstream"
FERRY = "harbour:https://harbour.example.org/?p=1204"
CORRECTION = "<p>Correction: the ferry ran for forty-two years, not forty-one.</p>"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def _source(server: FeedServer, path: str, name: str = "harbour") -> UpstreamSourceSettings:
    return UpstreamSourceSettings(url=server.url(path), section="world", name=name)


def _settings(settings: Settings, source: UpstreamSourceSettings) -> Settings:
    return settings.model_copy(update={"upstream": UpstreamSettings(sources=(source,))})


def _poll(db: Database, settings: Settings, source: UpstreamSourceSettings, when: datetime = T0):
    return poll_source(db, _settings(settings, source), source, now=lambda: when)


def _articles(db: Database, prefix: str) -> dict[str, Article]:
    with db.session() as session:
        rows = session.scalars(select(Article).where(Article.source_id.startswith(prefix)))
        found = {row.source_id: row for row in rows}
        session.expunge_all()
        return found


def _state(db: Database, key: str) -> UpstreamSource:
    with db.session() as session:
        row = session.scalar(select(UpstreamSource).where(UpstreamSource.key == key))
        assert row is not None
        session.expunge(row)
        return row


def test_a_feed_cut_off_mid_item_never_shortens_an_article(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    full = (UPSTREAM / "wordpress.xml").read_text(encoding="utf-8")
    corrected = full.replace("<p>Read the", CORRECTION + "\n<p>Read the", 1)
    server.serve("/feed/", feed(corrected.encode(), etag='"full"'))
    source = _source(server, "/feed/")
    assert _poll(db, settings, source).new == 4
    before = _articles(db, "harbour:")[FERRY]
    assert "forty-two years" in before.body_text

    # The next answer is cut off inside the first item's content, served 200: the loose
    # parser still finds the item, with only its opening paragraph.
    cut = corrected.index("<figure")
    server.serve("/feed/", feed(corrected[:cut].encode(), etag='"cut"'))
    result = _poll(db, settings, source, T0 + timedelta(hours=1))
    assert result.outcome is Outcome.FETCHED and result.kept == 1 and result.updated == 0
    assert result.degraded and "malformed feed" in result.degraded
    assert "degraded=" in result.line()
    after = _articles(db, "harbour:")[FERRY]
    assert after.body_text == before.body_text and after.updated_at == before.updated_at
    row = _state(db, "harbour")
    assert row.status is UpstreamStatus.DEGRADED and "malformed feed" in (row.last_error or "")

    server.serve("/feed/", feed(full.encode(), etag='"fixed"'))  # whole again, correction gone
    fixed = _poll(db, settings, source, T0 + timedelta(hours=2))
    assert fixed.updated == 1 and not fixed.degraded  # a well-formed feed may shorten
    assert _state(db, "harbour").status is UpstreamStatus.ACTIVE


def test_medium_pixel_is_removed_and_captions_kept(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    server.serve("/medium", feed((UPSTREAM / "medium.xml").read_bytes()))
    assert _poll(db, settings, _source(server, "/medium", "medium")).new == 1
    (article,) = _articles(db, "medium:").values()
    assert "_/stat" not in article.body_html and 'width="1"' not in article.body_html
    assert "<figcaption>The pilot boat leaving at 5 a.m.</figcaption>" in article.body_html


def test_youtube_description_is_text_and_thumbnail_leads(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    server.serve("/yt", feed((UPSTREAM / "youtube.xml").read_bytes(), "application/atom+xml"))
    assert _poll(db, settings, _source(server, "/yt", "films")).new == 1
    (video,) = _articles(db, "films:").values()
    assert video.body_text.startswith(
        "The whole crossing in real time.\nFilmed from the bridge, with the captain's permission."
    )
    assert "41:10 Fog near the lighthouse <watch the radar>" in video.body_text
    assert "&lt;watch the radar&gt;" in video.body_html
    assert video.image == "https://i2.ytimg.com/vi/AbCdEfGhIjK/hqdefault.jpg"


def test_a_github_avatar_is_not_a_lead_image(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    server.serve("/gh", feed((UPSTREAM / "github.xml").read_bytes(), "application/atom+xml"))
    assert _poll(db, settings, _source(server, "/gh", "tides")).new == 1
    (release,) = _articles(db, "tides:").values()
    assert release.image is None
    assert release.body_text.startswith("Adds the spring tide tables")


def test_substack_prompts_go_and_its_video_becomes_a_link(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    server.serve("/quay", feed((UPSTREAM / "substack.xml").read_bytes()))
    assert _poll(db, settings, _source(server, "/quay", "quay")).new == 1
    (letter,) = _articles(db, "quay:").values()
    text = letter.body_text
    assert "Subscribe" not in text and "Thanks for reading" not in text
    assert "/subscribe" not in letter.body_html
    assert text.startswith("The fish market opens at four")
    assert "They have learned the bell" in text and "More next week." in text
    assert 'href="https://www.youtube.com/watch?v=ZyXwVuTsRqP"' in letter.body_html
    assert "Watch on YouTube" in text
    assert 'alt="The gulls at dawn"' in letter.body_html


def test_json_feed_is_read(db: Database, settings: Settings, server: FeedServer) -> None:
    server.serve("/feed.json", feed((UPSTREAM / "feed.json").read_bytes(), "application/feed+json"))
    result = _poll(db, settings, _source(server, "/feed.json", "tidewatch"))
    assert (result.outcome, result.new) == (Outcome.FETCHED, 2)
    found = _articles(db, "tidewatch:")
    spring = found["tidewatch:https://tidewatch.example/2026/03/spring-tides"]
    assert spring.title == "Spring tides arrive early" and spring.author == "Tomas Reed"
    assert 'href="https://tidewatch.example/tables/2026"' in spring.body_html
    assert spring.image == "https://tidewatch.example/images/spring-tide.jpg"
    assert spring.published_at == datetime(2026, 3, 2, 6, 15, tzinfo=UTC)
    assert spring.tags == ["tides", "weather"]
    note = found["tidewatch:note-77"]
    assert note.title == "A short note. No HTML here: <b> stays text."
    assert "&lt;b&gt;" in note.body_html


def test_an_upstream_article_deleted_by_an_editor_stays_deleted(
    db: Database, settings: Settings, server: FeedServer
) -> None:
    body = (UPSTREAM / "wordpress.xml").read_bytes()
    server.serve("/feed/", feed(body, etag='"a"'))
    source = _source(server, "/feed/")
    _poll(db, settings, source)
    slug = _articles(db, "harbour:")[FERRY].slug
    with db.session() as session:
        delete_article(session, slug, T0)
    server.serve("/feed/", feed(body, etag='"b"'))  # a 200 again, entry unchanged
    result = _poll(db, settings, source, T0 + timedelta(hours=1))
    assert result.new == 0 and FERRY not in _articles(db, "harbour:")
