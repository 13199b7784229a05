"""Golden files: the site feed of a fixed data set, byte for byte, in all three formats.

A deliberate change of output regenerates them with
`DISPATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_feeds_golden.py` (review the diff)."""

from __future__ import annotations

import json
import os

import pytest

from conftest import DATA
from dispatch.config import Settings
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from support.feeds import add_article, assert_valid_atom, assert_valid_json_feed, assert_valid_rss

GOLDEN = DATA / "feeds" / "golden"
UPDATE = os.environ.get("DISPATCH_UPDATE_GOLDEN") == "1"


def _load_articles(db: Database) -> None:
    from datetime import datetime

    rows = json.loads((DATA / "feeds" / "articles.json").read_text(encoding="utf-8"))
    with db.session() as session:
        for row in rows:
            for key in ("published_at", "updated_at"):
                row[key] = datetime.fromisoformat(row[key])
            add_article(session, row.pop("slug"), row.pop("published_at"), **row)


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_site_feed_matches_golden_file(db: Database, settings: Settings, name: str):
    settings = settings.model_copy(
        update={"feeds": settings.feeds.model_copy(update={"hubs": ("https://hub.example/",)})}
    )
    _load_articles(db)
    with db.session() as session:
        file = next(f for f in build_feeds(session, settings) if f.path == name)
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(file.content)
    assert file.content == golden.read_bytes()
    checks = {"rss.xml": assert_valid_rss, "atom.xml": assert_valid_atom}
    if name in checks:
        checks[name](file.content, file.url, hubs=1)
    else:
        assert_valid_json_feed(file.content, file.url)
