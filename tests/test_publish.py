"""publish: atomic writes that skip unchanged files, removal of orphaned feed files
(and nothing else), and WebSub pings for exactly the files that changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dispatch.config import Settings
from dispatch.errors import PublishError
from dispatch.publish import publish_feeds, remove_orphans, write_file
from dispatch.render.feeds import FeedFile, build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus
from support.feeds import add_article, at, hub_server


def _build(db: Database, settings: Settings) -> list[FeedFile]:
    with db.session() as session:
        return build_feeds(session, settings)


def _with_hub(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"feeds": settings.feeds.model_copy(update={"hubs": (url,)})})


def test_write_file_is_atomic_and_skips_identical_content(tmp_path: Path):
    path = tmp_path / "deep" / "folder" / "feed.json"
    assert write_file(path, b"one") is True
    assert path.read_bytes() == b"one" and oct(path.stat().st_mode & 0o777) == "0o644"
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    assert write_file(path, b"one") is False
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (inode, mtime)  # untouched
    assert write_file(path, b"two") is True
    assert path.read_bytes() == b"two"
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert sorted(p.name for p in path.parent.iterdir()) == ["feed.json"]  # no temp left


def test_write_file_failure_names_the_path_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "lists"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(PublishError, match=r"lists/x/rss.xml: cannot write"):
        write_file(blocker / "x" / "rss.xml", b"data")

    target = tmp_path / "rss.xml"
    target.write_bytes(b"old")

    def refuse(source: str, destination: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PublishError, match=r"rss.xml: cannot write: Permission denied"):
        write_file(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lists", "rss.xml"]  # no temp left


def test_publish_writes_then_reports_nothing_changed(db: Database, settings: Settings):
    with db.session() as session:
        add_article(session, "a", at(1))
    files = _build(db, settings)
    first = publish_feeds(settings, files)
    root = settings.feeds.public_dir
    assert len(first.changed) == len(files) == 12
    for file in files:
        assert (root / file.path).read_bytes() == file.content
    again = publish_feeds(settings, _build(db, settings))
    assert again.changed == [] and again.deleted == [] and again.pings == []


def test_emptied_section_feed_is_removed_and_nothing_else(db: Database, settings: Settings):
    with db.session() as session:
        add_article(session, "w", at(1), section="world")
        add_article(session, "s", at(2), section="sport")
    publish_feeds(settings, _build(db, settings))
    root = settings.feeds.public_dir
    assert (root / "sections/sport/rss.xml").exists()
    bystanders = [
        root / "sections/sport/notes.txt",
        root / "index.html",
        root / "sections/rss.xml",
        root / "other/old/rss.xml",
    ]
    for path in bystanders:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not ours")
    with db.session() as session:
        article = session.query(Article).filter_by(slug="s").one()
        article.status = ArticleStatus.DRAFT
    report = publish_feeds(settings, _build(db, settings))
    assert report.deleted == [
        "sections/sport/atom.xml",
        "sections/sport/feed.json",
        "sections/sport/rss.xml",
    ]
    assert not (root / "sections/sport/rss.xml").exists()
    assert all(path.exists() for path in bystanders)
    assert (root / "sections/world/rss.xml").exists()
    changed = {f.path for f in report.changed}
    assert "sections/world/rss.xml" not in changed  # world did not change
    assert "rss.xml" in changed  # the site feed lost an entry


def test_empty_orphan_folder_is_removed(tmp_path: Path):
    (tmp_path / "lists/gone").mkdir(parents=True)
    (tmp_path / "lists/gone/atom.xml").write_text("x")
    assert remove_orphans(tmp_path, set()) == ["lists/gone/atom.xml"]
    assert not (tmp_path / "lists/gone").exists() and (tmp_path / "lists").is_dir()


def test_paths_outside_public_dir_are_refused(settings: Settings):
    for path in ("../escape.xml", "/etc/passwd", ""):
        bad = FeedFile("site", "rss", path, "http://x/", "application/rss+xml", 0, b"")
        with pytest.raises(PublishError, match="not a relative path"):
            publish_feeds(settings, [bad], ping=False)


def test_hubs_are_pinged_for_changed_files_only(db: Database, settings: Settings):
    with db.session() as session:
        add_article(session, "w", at(1), section="world")
        add_article(session, "c", at(2), section="culture")
    with hub_server() as hub:
        settings = _with_hub(settings, hub.url)
        first = publish_feeds(settings, _build(db, settings))
        assert len(hub.pings) == len(first.files) == 15  # site, 2 lists, 2 sections
        assert all(result.ok for result in first.pings)
        hub.pings.clear()

        with db.session() as session:
            add_article(session, "c2", at(3), section="culture")
        second = publish_feeds(settings, _build(db, settings))
        pinged = sorted(ping["hub.url"][0] for ping in hub.pings)
        base = "http://127.0.0.1:8000/feeds"
        expected = [
            f"{base}/{folder}{name}"
            for folder in ("", "lists/weekly-review/", "sections/culture/")
            for name in ("atom.xml", "feed.json", "rss.xml")
        ]
        assert pinged == sorted(expected) == sorted(f.url for f in second.changed)
        assert {p["hub.mode"][0] for p in hub.pings} == {"publish"}

        hub.pings.clear()
        publish_feeds(settings, _build(db, settings))
        assert hub.pings == []  # nothing changed, nobody pinged


def test_failing_hub_never_stops_publishing(db: Database, settings: Settings):
    with hub_server() as hub:
        hub.status = 503
        report = publish_feeds(_with_hub(settings, hub.url), _build(db, settings))
    assert len(report.changed) == 9 and report.pings and not any(p.ok for p in report.pings)
    assert (settings.feeds.public_dir / "atom.xml").exists()


def test_no_ping_option(db: Database, settings: Settings):
    with hub_server() as hub:
        report = publish_feeds(_with_hub(settings, hub.url), _build(db, settings), ping=False)
    assert report.changed and report.pings == [] and hub.pings == []
