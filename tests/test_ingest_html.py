from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest.fields import build_fields
from dispatch.ingest.html import is_whole_page, split_leading_h1
from dispatch.ingest.source import load_file

PAGE = DATA / "articles" / "page" / "harbour-page.html"
CHROME = (
    "Subscribe today",
    "ADVERTISEMENT",
    "Holiday cottages",
    "Most read",
    "Lighthouse sale",
    "Sponsored",
    "waterproof jackets",
    "All rights reserved",
    "Privacy policy",
    "Cookie settings",
    "dataLayer",
    "analytics",
    "min-height",
    "Coastline Weekly",
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Parsing needs settings but no database: SQLite only, never migrated."""
    return config.load(write_config(tmp_path, "sqlite:///var/dispatch.db"))


def test_whole_page_main_content_and_metadata_are_extracted(settings: Settings) -> None:
    source = load_file(PAGE, settings)
    fields = build_fields(source, "night-ferries-return-to-the-northern-harbour", settings)

    assert fields.title == "Night ferries return to the northern harbour"
    assert fields.author == "Maren Holt"
    assert fields.canonical_url == "https://coastline.example/news/2025/03/night-ferries-return"
    assert fields.date == datetime(2025, 3, 14, 6, 30, tzinfo=UTC)  # article:published_time
    assert fields.body_text.startswith("For the first time in eleven years")
    assert fields.body_text.endswith("without any change.")
    assert "A smaller, quieter boat" in fields.body_text
    assert "<h2>A smaller, quieter boat</h2>" in fields.body_html
    for chrome in CHROME:
        assert chrome not in fields.body_html, chrome
        assert chrome not in fields.body_text, chrome
    assert 'href="https://coastline.example/travel/ferry-timetable"' in fields.body_html
    assert "<h1" not in fields.body_html
    assert fields.summary.startswith("For the first time in eleven years")


def test_page_without_content_is_refused(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "empty-page.html"
    path.write_text(  # a single-page app shell: all text would come from JavaScript
        "<!doctype html><html><head><title>App</title></head>"
        '<body><div id="app"></div><script src="/app.js"></script></body></html>'
    )
    with pytest.raises(IngestError, match="no article text found"):
        load_file(path, settings)


def test_fragment_without_heading_or_title_is_refused(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "fragment.html"
    path.write_text("<p>Just a paragraph.</p>")
    with pytest.raises(IngestError) as caught:
        load_file(path, settings)
    assert caught.value.reason.startswith("no title")


def test_fragment_with_front_matter(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "fragment.html"
    path.write_text("---\ntitle: From front matter\nsection: world\n---\n<p>Body <b>bold</b></p>\n")
    fields = build_fields(load_file(path, settings), "from-front-matter", settings)
    assert (fields.title, fields.section) == ("From front matter", "world")
    assert fields.body_html == "<p>Body <b>bold</b></p>"
    assert fields.body_text == "Body bold"


@pytest.mark.parametrize(
    ("html", "whole"),
    [
        ("<!DOCTYPE html><p>x</p>", True),
        ("<html lang='en'><p>x</p></html>", True),
        ("<div><body class='x'>", True),
        ("<p>about the <html> element</p>", True),
        ("<p>hello</p><h1>x</h1>", False),
    ],
)
def test_whole_page_detection(html: str, whole: bool) -> None:
    assert is_whole_page(html) is whole


def test_split_leading_h1_only_at_the_start() -> None:
    assert split_leading_h1("<h1>A <em>b</em></h1>\n<p>c</p>") == ("A b", "<p>c</p>")
    assert split_leading_h1("<p>c</p><h1>A</h1>") == (None, "<p>c</p><h1>A</h1>")
    assert split_leading_h1("intro<h1>A</h1>") == (None, "intro<h1>A</h1>")
