"""build_feeds: which feeds exist, which articles each carries, in which order, and
that the output is stable: byte-identical rebuilds and permanent ids."""

from __future__ import annotations

import json
import locale
from pathlib import Path

import pytest

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.render.feed_ids import FeedFormat
from dispatch.render.feeds import FeedFile, build_feeds
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import ArticleStatus
from support.feeds import add_article, at


def _build(db: Database, settings: Settings) -> list[FeedFile]:
    with db.session() as session:
        return build_feeds(session, settings)


def _file(files: list[FeedFile], path: str) -> FeedFile:
    return next(f for f in files if f.path == path)


def _ids(files: list[FeedFile], path: str) -> list[str]:
    return [
        item["url"].rsplit("/", 1)[1] for item in json.loads(_file(files, path).content)["items"]
    ]


def _with(settings: Settings, **feeds: object) -> Settings:
    return settings.model_copy(update={"feeds": settings.feeds.model_copy(update=feeds)})


def test_feeds_for_site_lists_and_sections_with_published_articles(db: Database, settings):
    with db.session() as session:
        add_article(session, "w1", at(1), section="world")
        add_article(session, "c1", at(2), section="Culture")
        add_article(session, "s1", at(3), section="sport")
        add_article(session, "draft", at(4), section="science", status=ArticleStatus.DRAFT)
        add_article(session, "undated", None, section="nature")
    files = _build(db, settings)
    feeds = list(dict.fromkeys(f.feed for f in files))
    assert feeds == [
        "site",
        "list:morning-briefing",
        "list:weekly-review",
        "section:culture",
        "section:sport",
        "section:world",
    ]
    assert [f.format for f in files[:3]] == [FeedFormat.RSS, FeedFormat.ATOM, FeedFormat.JSON]
    assert _file(files, "sections/culture/atom.xml").url == (
        "http://127.0.0.1:8000/feeds/sections/culture/atom.xml"
    )
    assert _ids(files, "feed.json") == ["s1", "c1", "w1"]
    assert _ids(files, "lists/morning-briefing/feed.json") == ["w1"]  # world, technology
    assert _ids(files, "lists/weekly-review/feed.json") == ["c1"]  # "culture" matches "Culture"
    assert _ids(files, "sections/sport/feed.json") == ["s1"]
    assert {f.media_type for f in files} == {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }


def test_list_without_sections_carries_everything(tmp_path: Path, database_url: str):
    path = write_config(tmp_path, database_url, {r'^sections = \["culture"\]$': "sections = []"})
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
        add_article(session, "a", at(1), section="world")
        add_article(session, "b", at(2), section=None)
    try:
        assert _ids(_build(database, settings), "lists/weekly-review/feed.json") == ["b", "a"]
    finally:
        database.dispose()


def test_newest_first_tie_broken_on_id_and_limited_to_items(db: Database, settings):
    with db.session() as session:
        for slug in ("first", "second", "third"):
            add_article(session, slug, at(5))  # same published_at: newest row first
        add_article(session, "old", at(1))
        add_article(session, "new", at(9))
    files = _build(db, settings)
    assert _ids(files, "feed.json") == ["new", "third", "second", "first", "old"]
    limited = _build(db, _with(settings, items=2))
    assert _ids(limited, "feed.json") == ["new", "third"]
    assert _file(limited, "rss.xml").entries == 2


def test_full_text_or_summary(db: Database, settings):
    with db.session() as session:
        add_article(session, "a", at(1), summary="", body_text="Long body text here.")
    full = json.loads(_file(_build(db, settings), "feed.json").content)["items"][0]
    assert full["content_html"] == "<p>Body of a.</p>" and "summary" not in full
    brief = json.loads(_file(_build(db, _with(settings, full_text=False)), "feed.json").content)
    item = brief["items"][0]
    assert "content_html" not in item
    assert item["content_text"] == "Long body text here."  # no summary: start of the body


def test_building_twice_gives_identical_bytes(db: Database, settings):
    with db.session() as session:
        add_article(session, "a", at(1), image="/img/a.jpg", tags=["x", "y"])
        add_article(session, "b", at(2), updated_at=at(6))
    first = _build(db, settings)
    second = _build(db, settings)
    assert [f.content for f in first] == [f.content for f in second]
    rss = _file(first, "rss.xml").content
    assert b"<lastBuildDate>Fri, 06 Mar 2026 07:00:00 GMT</lastBuildDate>" in rss
    assert rss.count(b"lastBuildDate>") == 2  # one element: feedgen's own is suppressed
    assert b"<updated>2026-03-06T07:00:00+00:00</updated>" in _file(first, "atom.xml").content


def test_empty_feed_uses_the_epoch_not_the_clock(db: Database, settings):
    files = _build(db, settings)
    atom = _file(files, "atom.xml").content
    assert b"<updated>1970-01-01T00:00:00+00:00</updated>" in atom
    assert b"lastBuildDate" not in _file(files, "rss.xml").content
    assert [f.content for f in files] == [f.content for f in _build(db, settings)]


def test_ids_survive_title_slug_and_host_changes(db: Database, settings):
    with db.session() as session:
        article = add_article(session, "before", at(1), title="Before")
        uid = article.uid
    before = json.loads(_file(_build(db, settings), "feed.json").content)
    with db.session() as session:
        row = session.get(type(article), article.id)
        row.title, row.slug = "After", "after"
    moved = settings.model_copy(
        update={"site": settings.site.model_copy(update={"base_url": "https://new.example"})}
    )
    after = json.loads(_file(_build(db, moved), "feed.json").content)
    expected = f"tag:dispatch.example,2026:article:{uid}"
    assert before["items"][0]["id"] == after["items"][0]["id"] == expected
    assert after["items"][0]["url"] == "https://new.example/articles/after"
    atom = _file(_build(db, moved), "atom.xml").content
    assert b"<id>tag:dispatch.example,2026:feed:site</id>" in atom
    list_atom = _file(_build(db, moved), "lists/morning-briefing/atom.xml").content
    assert b"<id>tag:dispatch.example,2026:feed:list:morning-briefing</id>" in list_atom


def test_building_never_calls_setlocale(db: Database, settings, monkeypatch):
    with db.session() as session:
        add_article(session, "a", at(1))

    def refuse(*args: object) -> str:
        raise AssertionError("locale.setlocale called while building feeds")

    monkeypatch.setattr(locale, "setlocale", refuse)
    files = _build(db, settings)
    assert b"<pubDate>Sun, 01 Mar 2026 07:00:00 GMT</pubDate>" in _file(files, "rss.xml").content


@pytest.mark.parametrize("full_text", [True, False])
def test_every_entry_field_reaches_every_format(db: Database, settings, full_text: bool):
    with db.session() as session:
        add_article(session, "pic", at(2), image="https://cdn.example/p.png?w=600", tags=["a", "b"])
    files = _build(db, _with(settings, full_text=full_text))
    rss = _file(files, "rss.xml").content.decode()
    assert '<enclosure url="https://cdn.example/p.png?w=600" length="0" type="image/png"/>' in rss
    assert "<dc:creator>Ada Writer</dc:creator>" in rss
    assert "<category>a</category>" in rss and "<category>b</category>" in rss
    atom = _file(files, "atom.xml").content.decode()
    assert 'rel="enclosure" type="image/png"' in atom
    assert "<published>2026-03-02T07:00:00+00:00</published>" in atom
    assert '<category term="b"/>' in atom and "<name>Ada Writer</name>" in atom
    item = json.loads(_file(files, "feed.json").content)["items"][0]
    assert item["image"] == "https://cdn.example/p.png?w=600"
    assert item["authors"] == [{"name": "Ada Writer"}] and item["tags"] == ["a", "b"]
    assert item["date_published"] == "2026-03-02T07:00:00+00:00"
    assert ("<content " in atom) is full_text
    assert ("content:encoded" in rss) is full_text
