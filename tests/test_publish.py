"""publish: atomic writes that skip unchanged files, removal of orphaned feed files
(and nothing else), WebSub pings for exactly the files that changed, and failed pings
kept and retried at later builds (against a real hub on loopback)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from dispatch.config import Settings
from dispatch.errors import PublishError
from dispatch.publish import publish_feeds, remove_orphans, write_file
from dispatch.render.feeds import FeedFile, build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus
from dispatch.websub import PENDING_FILE
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


def _pending(settings: Settings) -> list[dict]:
    path = settings.feeds.public_dir / PENDING_FILE
    return json.loads(path.read_text())["pending"] if path.exists() else []


def test_failed_pings_are_retried_at_the_next_build_until_delivered(
    db: Database, settings: Settings, caplog
):
    with db.session() as session:
        add_article(session, "w", at(1), section="world")
    with hub_server() as hub:
        settings = _with_hub(settings, hub.url)
        hub.status = 503  # the hub is down for the first build
        first = publish_feeds(settings, _build(db, settings), now=at(2))
        assert len(first.pings) == 12 and not any(p.ok for p in first.pings)
        assert (settings.feeds.public_dir / "rss.xml").exists()  # published regardless
        stored = _pending(settings)
        assert [(p["hub"], p["attempts"]) for p in stored] == [(hub.url, 1)] * 12
        assert {p["url"] for p in stored} == {f.url for f in first.changed}
        assert stored[0]["first_failed"] == at(2).isoformat()
        assert "HTTP 503" in stored[0]["last_error"]
        assert oct((settings.feeds.public_dir / PENDING_FILE).stat().st_mode & 0o777) == "0o644"

        hub.pings.clear()
        still_down = publish_feeds(settings, _build(db, settings), now=at(2, 12))
        assert still_down.changed == [] and len(hub.pings) == 12  # retried, nothing changed
        assert {p["attempts"] for p in _pending(settings)} == {2}
        assert {p["first_failed"] for p in _pending(settings)} == {at(2).isoformat()}

        hub.status = 204  # back up
        hub.pings.clear()
        with caplog.at_level(logging.INFO, logger="dispatch.websub"):
            third = publish_feeds(settings, _build(db, settings), now=at(2, 20))
        assert third.changed == [] and all(p.ok for p in third.pings) and third.pending == []
        assert sorted(p["hub.url"][0] for p in hub.pings) == sorted(f.url for f in first.changed)
        assert "accepted the retried ping" in caplog.text
        assert not (settings.feeds.public_dir / PENDING_FILE).exists()

        hub.pings.clear()
        publish_feeds(settings, _build(db, settings), now=at(4))
        assert hub.pings == []  # delivered pings are not sent again


def test_a_retried_ping_is_sent_once_even_when_its_feed_changes_again(
    db: Database, settings: Settings
):
    with db.session() as session:
        add_article(session, "w", at(1), section="world")
    with hub_server() as hub:
        settings = _with_hub(settings, hub.url)
        hub.status = 500
        publish_feeds(settings, _build(db, settings), now=at(2))
        hub.status, hub.pings = 204, []
        with db.session() as session:
            add_article(session, "w2", at(2), section="world")
        report = publish_feeds(settings, _build(db, settings), now=at(3))
    urls = [p["hub.url"][0] for p in hub.pings]
    assert len(urls) == len(set(urls)) == 12 and all(p.ok for p in report.pings)


def test_pending_pings_are_given_up_after_a_day_or_when_the_hub_is_gone(
    db: Database, settings: Settings, caplog
):
    with db.session() as session:
        add_article(session, "w", at(1), section="world")
    root = settings.feeds.public_dir
    with hub_server() as hub:
        hub.status = 502
        with_hub = _with_hub(settings, hub.url)
        publish_feeds(with_hub, _build(db, settings), now=at(2))
        assert len(_pending(settings)) == 12
        with caplog.at_level(logging.ERROR, logger="dispatch.websub"):
            report = publish_feeds(with_hub, _build(db, settings), now=at(3, 8))
        assert report.pending == [] and not (root / PENDING_FILE).exists()
        assert f"WebSub hub {hub.url}: giving up on the ping for" in caplog.text

        with db.session() as session:
            add_article(session, "w2", at(3), section="world")
        again = publish_feeds(with_hub, _build(db, settings), now=at(4))  # fails: queued
        assert len(_pending(settings)) == len(again.changed) == 9  # site, a list, a section
        hub.pings.clear()
        with caplog.at_level(logging.WARNING, logger="dispatch.websub"):
            report = publish_feeds(settings, _build(db, settings), now=at(4, 9))  # no hubs
        assert hub.pings == [] and report.pings == [] and not (root / PENDING_FILE).exists()
        assert "hub no longer configured" in caplog.text


def test_unreadable_pending_file_is_logged_and_replaced(db: Database, settings: Settings, caplog):
    root = settings.feeds.public_dir
    root.mkdir(parents=True)
    (root / PENDING_FILE).write_text("{not json")
    with hub_server() as hub, caplog.at_level(logging.WARNING, logger="dispatch.websub"):
        report = publish_feeds(_with_hub(settings, hub.url), _build(db, settings))
    assert report.changed and all(p.ok for p in report.pings)
    assert f"{root / PENDING_FILE} is unreadable" in caplog.text
    assert not (root / PENDING_FILE).exists()
