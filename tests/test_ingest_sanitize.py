from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.ingest.fields import build_fields
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.source import load_file

BASE = "https://news.example/articles/story"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Parsing needs settings but no database: SQLite only, never migrated."""
    return config.load(write_config(tmp_path, "sqlite:///var/dispatch.db"))


@pytest.mark.parametrize(
    ("payload", "forbidden"),
    [
        ("<script>alert(1)</script><p>ok</p>", "alert"),
        ('<img src="x.png" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<a href="java&#09;script:alert(1)">x</a>', "alert"),
        ("<style>p { color: red }</style><p>ok</p>", "color"),
        ('<iframe src="https://evil.example/">fallback</iframe>', "<iframe"),  # a plain link
        ('<iframe src="https://evil.example/">fallback</iframe>', "fallback"),
        ('<svg onload="alert(1)"><text>svg text</text></svg>', "svg"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', "data:"),
        ('<p style="background:url(javascript:alert(1))">x</p>', "style"),
        ('<form action="https://evil.example/"><input name="q"></form>', "evil"),
        ("<p>a<!-- secret comment -->b</p>", "secret"),
        ('<object data="x.swf"></object><embed src="y.swf">', "swf"),
    ],
)
def test_xss_payloads_are_stripped(payload: str, forbidden: str) -> None:
    assert forbidden not in sanitize_html(payload, BASE).lower()


def test_relative_links_and_images_are_made_absolute() -> None:
    html = (
        '<a href="../about">a</a><a href="/x?y=1">b</a><a href="#n">c</a>'
        '<img src="pic.jpg" alt="p"><a href="//cdn.example/z">d</a>'
        '<a href="mailto:ed@news.example">e</a><blockquote cite="q.html">q</blockquote>'
    )
    clean = sanitize_html(html, BASE)
    for url in (
        "https://news.example/about",
        "https://news.example/x?y=1",
        "https://news.example/articles/story#n",
        "https://news.example/articles/pic.jpg",
        "https://cdn.example/z",
        "mailto:ed@news.example",
        "https://news.example/articles/q.html",
    ):
        assert f'"{url}"' in clean


def test_formatting_survives() -> None:
    html = "<h2>Head</h2><p><strong>b</strong> <em>i</em> <code>c</code></p><ul><li>x</li></ul>"
    assert sanitize_html(html, BASE) == html


def test_xss_fragment_file(settings: Settings) -> None:
    source = load_file(DATA / "articles" / "xss-fragment.html", settings)
    fields = build_fields(source, "harmless-looking-headline", settings)
    html = fields.body_html.lower()
    for forbidden in ("<script", "alert", "onerror", "onclick", "onload", "<style", "display"):
        assert forbidden not in html
    for forbidden in ("<iframe", "fallback", "<svg", "javascript", "data:"):
        assert forbidden not in html
    assert fields.title == "Harmless looking headline"
    assert "<h1" not in html
    url = f"{settings.site.base_url}/articles/harmless-looking-headline"
    assert f'href="{settings.site.base_url}/about"' in fields.body_html
    assert f'href="{url}#notes"' in fields.body_html
    assert f'src="{settings.site.base_url}/media/photo.jpg"' in fields.body_html
    assert "iframe fallback text" not in fields.body_text
    assert "Second paragraph with a relative link" in fields.body_text


def test_canonical_url_is_the_base_for_relative_links(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "post.md"
    path.write_text(
        "---\ntitle: T\ncanonical_url: https://origin.example/blog/post/\n---\n[next](next-post)\n"
    )
    fields = build_fields(load_file(path, settings), "t", settings)
    assert 'href="https://origin.example/blog/post/next-post"' in fields.body_html
