"""feed_text: XML-legal text, absolute links in article HTML, enclosure media types."""

from __future__ import annotations

import pytest

from dispatch.render.feed_text import absolute_html, clean, media_type, shorten, text_to_html

BASE = "https://news.example/articles/some-story"


def test_clean_strips_every_xml_forbidden_character_and_nothing_else():
    forbidden = "".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
    kept = "tab\there\nline\r\n😀 a\u2011b é \u00a0 \u007f"
    assert clean(forbidden + kept + "\ufffe\uffff") == kept
    assert clean(None) == ""


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('<a href="/x">x</a>', '<a href="https://news.example/x">x</a>'),
        ('<a href="y">y</a>', '<a href="https://news.example/articles/y">y</a>'),
        ('<a href="#n">n</a>', f'<a href="{BASE}#n">n</a>'),
        ('<img src="//cdn.example/i.png">', '<img src="https://cdn.example/i.png">'),
        ('<a href="mailto:ed@news.example">m</a>', '<a href="mailto:ed@news.example">m</a>'),
        (
            '<a href="https://o.example/?a=1&amp;b=2">q</a>',
            '<a href="https://o.example/?a=1&amp;b=2">q</a>',
        ),
        (
            '<img src="a.jpg" srcset="a.jpg 1x, /b.jpg 2x">',
            '<img src="https://news.example/articles/a.jpg" '
            'srcset="https://news.example/articles/a.jpg 1x, https://news.example/b.jpg 2x">',
        ),
        ("text &amp; <b>bold</b> tail", "text &amp; <b>bold</b> tail"),
        ("", ""),
    ],
)
def test_absolute_html(fragment: str, expected: str):
    assert absolute_html(fragment, BASE) == expected


def test_absolute_html_drops_control_characters_before_parsing():
    assert absolute_html("<p>a\x0bb\x00c</p>", BASE) == "<p>abc</p>"


def test_text_to_html_escapes_and_makes_paragraphs():
    assert text_to_html("a < b & c\n\n\nsecond\x0b") == "<p>a &lt; b &amp; c</p><p>second</p>"


def test_shorten_cuts_at_a_word():
    text = "word " * 100
    short = shorten(text, width=30)
    assert len(short) <= 30 and short.endswith(" …") and "  " not in short


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/p.jpg", "image/jpeg"),
        ("https://x.example/P.JPEG?w=600#top", "image/jpeg"),
        ("https://x.example/p.png", "image/png"),
        ("https://x.example/p.gif", "image/gif"),
        ("https://x.example/p.svg", "image/svg+xml"),
        ("https://x.example/photo", "application/octet-stream"),
    ],
)
def test_media_type_from_extension(url: str, expected: str):
    assert media_type(url) == expected
