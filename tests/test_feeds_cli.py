"""`dispatch feeds build` and `dispatch feeds list`."""

from __future__ import annotations

from dispatch.config import Settings
from dispatch.store.database import Database
from support.feeds import add_article, at


def test_build_writes_files_and_reports_changes(cli, db: Database, settings: Settings):
    with db.session() as session:
        add_article(session, "a", at(1), section="world")
    first = cli("feeds", "build")
    assert first.exit_code == 0, first.output
    root = settings.feeds.public_dir
    assert (root / "sections/world/feed.json").is_file()
    assert "site" in first.output and "sections/world/atom.xml" in first.output
    assert "12 of 12 files changed" in first.output
    second = cli("feeds", "build")
    assert second.exit_code == 0, second.output
    assert "0 of 12 files changed" in second.output
    assert "yes" not in second.output


def test_build_reports_removed_feeds(cli, db: Database, settings: Settings):
    stale = settings.feeds.public_dir / "sections/gone/rss.xml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    result = cli("feeds", "build", "--no-ping")
    assert result.exit_code == 0, result.output
    assert "removed sections/gone/rss.xml" in result.output and not stale.exists()


def test_list_shows_feeds_with_urls_and_writes_nothing(cli, db: Database, settings: Settings):
    with db.session() as session:
        add_article(session, "a", at(1), section="culture")
        add_article(session, "b", at(2), section="culture")
    result = cli("feeds", "list")
    assert result.exit_code == 0, result.output
    assert "section:culture" in result.output and "list:weekly-review" in result.output
    lines = [line for line in result.output.splitlines() if "section:culture" in line]
    assert len(lines) == 3 and all(" 2 " in line for line in lines)
    assert "sections/culture/feed.json" in result.output
    assert "Feeds served at http://127.0.0.1:8000/feeds/" in result.output
    assert not settings.feeds.public_dir.exists()
