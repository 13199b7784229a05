from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.fields import build_fields
from dispatch.ingest.markdown import parse_markdown
from dispatch.ingest.source import load_file
from dispatch.store.models import ArticleStatus

TIDES = DATA / "articles" / "markdown" / "tide-tables.md"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Parsing needs settings but no database: SQLite only, never migrated."""
    return config.load(write_config(tmp_path, "sqlite:///var/dispatch.db"))


def test_front_matter_and_rendered_body(settings: Settings) -> None:
    source = load_file(TIDES, settings)
    assert source.source_id == "tide-tables-2025"
    fields = build_fields(source, "tide-tables", settings)
    assert fields.title == "Reading the tide tables: a beginner\u2019s guide"
    assert (fields.author, fields.section, fields.tags) == (
        "Ana Ferreira",
        "culture",
        ("sea", "how-to"),
    )
    assert fields.status is ArticleStatus.PUBLISHED
    # 09:15 in Europe/London (the test config's site time zone, BST in April) is 08:15 UTC.
    assert fields.date == datetime(2025, 4, 2, 8, 15, tzinfo=UTC)
    assert fields.image == "http://127.0.0.1:8000/static/images/tide.jpg"
    assert "<h1" not in fields.body_html  # the heading repeating the title is dropped
    assert "<em>when</em>" in fields.body_html
    assert "<table>" in fields.body_html and "<td>4.6 m</td>" in fields.body_html
    link = 'href="http://127.0.0.1:8000/articles/glossary/chart-datum"'
    assert link in fields.body_html
    assert "Heights and times\n\nEvery table lists" in fields.body_text
    assert "1. Find today\u2019s date.\n\n2. Read the first high water." in fields.body_text
    assert fields.summary.startswith("Tide tables look like a wall of numbers")


def test_summary_from_front_matter_wins(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: T\nsummary: Given.\n---\nA body paragraph.\n")
    assert build_fields(load_file(path, settings), "t", settings).summary == "Given."


def test_leading_heading_is_the_title_without_front_matter(
    tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "a.md"
    path.write_text("# Only a *heading*\n\nAnd a paragraph.\n")
    source = load_file(path, settings)
    assert source.title == "Only a heading"
    assert source.extracted.html.strip() == "<p>And a paragraph.</p>"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Just text, no heading and no front matter.\n", "no title"),
        ("---\nauthor: Someone\n---\nBody without a title.\n", "no title"),
        ("---\ntitle: T\n---\n\n   \n", "the article has no body"),
        ("# Title only\n", "the article has no body besides its title"),
    ],
)
def test_missing_title_or_body(tmp_path: Path, settings: Settings, text: str, reason: str) -> None:
    path = tmp_path / "a.md"
    path.write_text(text)
    with pytest.raises(IngestError) as caught:
        load_file(path, settings)
    assert caught.value.reason.startswith(reason)


def test_raw_html_in_markdown_is_rendered_then_left_to_the_sanitiser() -> None:
    html = parse_markdown("<script>alert(1)</script>\n\ntext *x*\n").html
    assert "<script>" in html  # build_fields sanitises; see test_ingest_sanitize
    assert "<p>text <em>x</em></p>" in html
