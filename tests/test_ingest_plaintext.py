from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.ingest.fields import build_fields
from dispatch.ingest.plaintext import parse_plaintext
from dispatch.ingest.source import load_file

NB_HYPHEN = "\u2011"
TITLE = (
    "A growing divide emerges as European leaders outline a more ambitious and "
    "security\u2011anchored framework than the current U.S. proposal."
)
CAPTION = "Silhouettes of soldiers against a backdrop of the European Union and Ukrainian flags"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Parsing needs settings but no database: SQLite only, never migrated."""
    return config.load(write_config(tmp_path, "sqlite:///var/dispatch.db"))


def test_pasted_article_fixture(settings: Settings) -> None:
    source = load_file(DATA / "article-plain.txt", settings)
    fields = build_fields(source, "a-growing-divide", settings)

    assert fields.title == TITLE
    assert NB_HYPHEN in fields.title
    paragraphs = fields.body_text.split("\n\n")
    assert paragraphs[0].startswith(CAPTION)
    body = paragraphs[1:]
    assert len(body) == 8
    assert body[0].startswith("In a significant shift")
    assert body[-1].startswith("As winter approaches")
    assert [p.split()[0] for p in body] == [
        "In", "European", "The", "Behind", "The", "While", "For", "As",
    ]  # fmt: skip
    for text in (fields.body_text, fields.body_html):
        assert "Leave a comment" not in text
        assert "Trending" not in text
    assert f"rapid{NB_HYPHEN}response" in fields.body_text
    assert f"rapid{NB_HYPHEN}response" in fields.body_html
    assert "\u201ca political deterrent with teeth.\u201d" in fields.body_text
    assert "membership\u2014still" in fields.body_html
    assert fields.body_html.count("<p>") == 9
    assert fields.summary.startswith("In a significant shift")
    assert fields.summary.endswith("\u2026") and len(fields.summary) <= 300


def test_chrome_is_removed_only_from_the_end_case_insensitively() -> None:
    text = (
        "Title\n\nTrending now: a real paragraph.\n\nLast words.\n\n"
        "  share THIS \nADVERTISEMENT\n\n"
    )
    extracted = parse_plaintext(text, ["Share this", "Advertisement"], has_title=False)
    assert extracted.title == "Title"
    assert extracted.text == "Trending now: a real paragraph.\n\nLast words."


def test_lines_within_a_paragraph_become_line_breaks() -> None:
    extracted = parse_plaintext("T\n\nRoses are red,\nviolets <blue>\n", [], has_title=False)
    assert extracted.text == "Roses are red,\nviolets <blue>"
    assert extracted.html == "<p>Roses are red,<br>\nviolets &lt;blue&gt;</p>"


def test_front_matter_title_keeps_the_first_line_as_body(
    tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "note.txt"
    path.write_text("---\ntitle: Given title\n---\nFirst line is body.\n\nSecond.\n")
    source = load_file(path, settings)
    assert source.title == "Given title"
    assert source.extracted.text == "First line is body.\n\nSecond."
