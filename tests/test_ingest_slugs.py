"""Slugs keep the title's words in order and are cut only at the end, on a word boundary;
a slug that changes keeps redirecting (old slug → 301)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conftest import DATA
from dispatch.config import Settings
from dispatch.ingest import import_paths
from dispatch.ingest.slugs import MAX_LENGTH, make_slug, truncate
from dispatch.store.database import Database
from dispatch.store.models import ArticleSlug
from dispatch.web.app import create_app

SEED_TITLE = (DATA / "article-plain.txt").read_text(encoding="utf-8").splitlines()[0]


def test_the_seed_title_keeps_its_words_in_order() -> None:
    slug = make_slug(SEED_TITLE)
    assert (
        slug
        == ("a-growing-divide-emerges-as-european-leaders-outline-a-more-ambitious-and-security")[
            : len(slug)
        ]
    )
    words = slug.split("-")
    full = "a-growing-divide-emerges-as-european-leaders-outline-a-more-ambitious-and-security"
    assert full.startswith(slug) and full.split("-")[: len(words)] == words
    assert len(slug) <= MAX_LENGTH
    assert not slug.endswith("-u") and "than" not in words


def test_truncation_is_at_the_end_on_a_word_boundary() -> None:
    assert truncate("alpha-beta-gamma", 11) == "alpha-beta"
    assert truncate("alpha-beta-gamma", 10) == "alpha-beta"
    assert truncate("alpha-beta-gamma", 9) == "alpha"
    assert truncate("supercalifragilistic-word", 5) == "super"  # one word longer than the limit
    assert truncate("short", 80) == "short"
    assert make_slug("Café au lait!") == "cafe-au-lait"
    assert make_slug("!!!") == "article"
    long_word = "x" * 200
    assert make_slug(f"{long_word} tail") == "x" * MAX_LENGTH


def test_a_changed_slug_redirects(tmp_path: Path, db: Database, settings: Settings) -> None:
    """An article first imported under python-slugify's old cut keeps its old URL alive."""
    path = tmp_path / "seed.md"
    old = "---\nid: seed\ntitle: Seed\nslug: outline-a-more-ambitious-and-than-u\n---\n\nBody.\n"
    path.write_text(old, encoding="utf-8")
    assert import_paths(db, settings, [path]).ok
    path.write_text(f'---\nid: seed\ntitle: "{SEED_TITLE}"\n---\n\nBody.\n', encoding="utf-8")
    report = import_paths(db, settings, [path])
    assert report.ok, report.failed
    new = report.imported[0].slug
    assert new == make_slug(SEED_TITLE)
    with db.session() as session:
        assert session.get(ArticleSlug, "outline-a-more-ambitious-and-than-u") is not None
    with TestClient(create_app(settings, db)) as client:
        moved = client.get("/articles/outline-a-more-ambitious-and-than-u", follow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["location"].endswith(f"/articles/{new}")
