"""Benchmark `build_feeds` + `publish_feeds` on a store of 10,000 articles.

    .venv/bin/python benchmarks/feeds_build.py [--articles N] [--repeat R] [--keep]

Bulk-inserts N published articles (five sections, so the site feed, both configured
lists and five section feeds: 8 feeds in 3 formats) into a fresh, migrated SQLite store
in a temporary folder, then times, in this process:

- a full build: `build_feeds` + `publish_feeds` into an empty public folder;
- a no-change rebuild: the same again over the files just written (nothing changes,
  nothing is written, nobody is pinged).

Each is run R times (default 3; the public folder is emptied before every full build)
and the best time is printed. Aim: full < 2 s, no-change < 0.5 s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus

SECTIONS = ["world", "technology", "culture", "sport", "science"]
AIM_FULL, AIM_UNCHANGED = 2.0, 0.5
START = datetime(2024, 1, 1, 6, tzinfo=UTC)
PARAGRAPH = (
    "The harbour authority met on Tuesday to weigh the proposal, which would widen "
    "the northern channel and add two berths for ferries. "
)


def settings_in(folder: Path) -> Settings:
    body = default_config_text()
    url = f"sqlite:///{folder / 'var' / 'dispatch.db'}"
    body = re.sub(r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{url}"', body)
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return config.load(path)


def rows(count: int) -> list[dict[str, object]]:
    """`count` published articles, one every hour, spread over the sections."""
    result = []
    for number in range(count):
        when = START + timedelta(hours=number)
        slug = f"article-{number:05d}"
        body = " ".join([PARAGRAPH] * 6)
        result.append(
            {
                "uid": str(uuid.UUID(int=number + 1)),
                "slug": slug,
                "title": f"Article {number}: the harbour vote, day {number % 365}",
                "summary": f"Summary of article {number}.",
                "body_html": f"<p>{body}</p><p><a href='/articles/other'>More</a></p>",
                "body_text": body,
                "author": f"Writer {number % 17}",
                "section": SECTIONS[number % len(SECTIONS)],
                "tags": ["news", SECTIONS[number % len(SECTIONS)]],
                "image": f"/media/{slug}.jpg" if number % 3 == 0 else None,
                "status": ArticleStatus.PUBLISHED,
                "published_at": when,
                "created_at": when,
                "updated_at": when,
                "source": "bench",
                "source_id": slug,
                "content_hash": f"{number:064d}",
            }
        )
    return result


def fill_store(settings: Settings, count: int) -> Database:
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    started = time.perf_counter()
    with db.session() as session:
        sync_lists(session, settings)
        session.execute(insert(Article), rows(count))
    print(f"inserted {count:,} articles in {time.perf_counter() - started:.2f} s")
    return db


def build_and_publish(db: Database, settings: Settings) -> tuple[float, int, int]:
    """Seconds, files built, files written."""
    started = time.perf_counter()
    with db.session() as session:
        files = build_feeds(session, settings)
    report = publish_feeds(settings, files, ping=False)
    return time.perf_counter() - started, len(files), len(report.changed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dispatch-feeds-bench-"))
    try:
        settings = settings_in(folder)
        db = fill_store(settings, args.articles)
        full, unchanged = [], []
        for _ in range(args.repeat):
            shutil.rmtree(settings.feeds.public_dir, ignore_errors=True)
            seconds, built, written = build_and_publish(db, settings)
            assert written == built, f"full build wrote {written} of {built} files"
            full.append(seconds)
            seconds, _, written = build_and_publish(db, settings)
            assert written == 0, f"no-change rebuild wrote {written} files"
            unchanged.append(seconds)
        db.dispose()
        print(f"{built} feed files ({settings.feeds.items} entries each) from {args.articles:,}")
        print(f"full build:        {min(full):.3f} s (aim < {AIM_FULL} s)")
        print(f"no-change rebuild: {min(unchanged):.3f} s (aim < {AIM_UNCHANGED} s)")
        ok = min(full) < AIM_FULL and min(unchanged) < AIM_UNCHANGED
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
