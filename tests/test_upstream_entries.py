"""Reading upstream feeds into entries: titles, bodies, links, dates, identities."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import DATA
from dispatch.errors import UpstreamError
from dispatch.ingest.upstream_entries import FeedEntry, as_source
from dispatch.ingest.upstream_read import parse_feed

FEED_URL = "https://feeds.example.com/harbour/rss"


def rss(*items: str, extra_ns: str = "") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0"?><rss version="2.0"{extra_ns}><channel><title>T</title>'
        f"<link>https://blog.example.org/</link><description>d</description>{body}"
        "</channel></rss>"
    ).encode()


def one(*items: str) -> FeedEntry:
    [entry] = parse_feed(rss(*items), "application/rss+xml", FEED_URL)
    return entry


def test_wordpress_feed_entries_in_order_without_duplicates_or_unidentifiable_items() -> None:
    entries = parse_feed((DATA / "upstream" / "wordpress.xml").read_bytes(), None, FEED_URL)

    assert [entry.ident for entry in entries] == [
        "https://harbour.example.org/?p=1204",
        "https://harbour.example.org/?p=1198",
        "https://harbour.example.org/?p=1180",
        "https://harbour.example.org/2026/02/harbour-master-interview/",
    ]
    ferry = entries[0]
    assert ferry.tags == ("Transport", "Ferries")
    assert ferry.date == datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    assert "Continue reading" not in ferry.html  # content:encoded wins over the teaser
    assert "<figure>" in ferry.html and "wp-image" not in ferry.html
    assert entries[2].title == "Tides & tables: a winter guide" and entries[2].date is None


def test_an_entry_with_only_a_link_is_known_by_it_and_links_to_the_original() -> None:
    entry = one("<title>Interview</title><link>https://blog.example.org/interview/</link>")

    assert entry.ident == entry.link == "https://blog.example.org/interview/"
    url = "https://blog.example.org/interview/"
    assert entry.html == f'<p><a href="{url}" rel="noopener noreferrer">{url}</a></p>'


def test_an_entry_with_no_title_takes_its_opening_words() -> None:
    entry = one(
        "<guid>g-1</guid>"
        "<description>&lt;p&gt;Short &lt;b&gt;note&lt;/b&gt; from the quay.&lt;/p&gt;</description>"
    )

    assert entry.title == "Short note from the quay."


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Ben &amp; Jerry&apos;s &lt;b&gt;new&lt;/b&gt; flavour", "Ben & Jerry's new flavour"),
        ("<![CDATA[<em>Tides</em> &amp; tables]]>", "Tides & tables"),
        ("AT&amp;T: 5 &lt; 6", "AT&T: 5 < 6"),
        ("  Line\nbreaks\r\n and\ttabs  ", "Line breaks and tabs"),
        ("Bell\x07 rings", "Bell rings"),
    ],
)
def test_titles_are_plain_text(title: str, expected: str) -> None:
    if "\x07" in title:  # XML forbids it: feedparser's loose parser still reads the feed
        entry = parse_feed(rss(f"<guid>g</guid><title>{title}</title>"), None, FEED_URL)[0]
    else:
        entry = one(f"<guid>g</guid><title>{title}</title><description>x</description>")
    assert entry.title == expected


def test_relative_links_in_rss_content_resolve_against_the_entry_link() -> None:
    entry = one(
        "<guid>g</guid><title>t</title><link>/2026/03/post/</link>"
        '<description><![CDATA[<p><a href="notes.pdf">notes</a> <img src="../pic.jpg">'
        '<a href="javascript:alert(1)">x</a></p>]]></description>'
    )

    assert entry.link == "https://feeds.example.com/2026/03/post/"  # relative to the feed
    assert 'href="https://feeds.example.com/2026/03/post/notes.pdf"' in entry.html
    assert 'src="https://feeds.example.com/2026/03/pic.jpg"' in entry.html
    assert "javascript:" not in entry.html


def test_plain_text_content_is_escaped_into_paragraphs() -> None:
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>'
        b"<updated>2026-01-01T00:00:00Z</updated><entry><id>urn:e</id><title>t</title>"
        b"<updated>2026-01-01T00:00:00Z</updated>"
        b'<content type="text">Use &lt;b&gt; for bold.\n\nSecond paragraph.</content>'
        b"</entry></feed>"
    )
    [entry] = parse_feed(atom, "application/atom+xml", FEED_URL)

    assert entry.html == "<p>Use &lt;b&gt; for bold.</p><p>Second paragraph.</p>"
    assert entry.date == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_page_that_is_not_a_feed_is_refused() -> None:
    page = (DATA / "upstream" / "not-a-feed.html").read_bytes()

    with pytest.raises(
        UpstreamError, match=r"not an RSS, Atom or JSON feed \(served as text/html\)"
    ):
        parse_feed(page, "text/html", FEED_URL)


def test_as_source_carries_section_date_and_canonical_link() -> None:
    entry = one(
        "<guid>g</guid><title>Hello</title><link>https://blog.example.org/hello/</link>"
        "<description>Body</description><category>News</category>"
    )
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)

    source = as_source(entry, "technology", when)

    meta = source.meta
    assert (meta.title, meta.section, meta.date, meta.tags) == (
        "Hello",
        "technology",
        when,
        ["News"],
    )
    assert meta.canonical_url == "https://blog.example.org/hello/"
    assert (source.extracted.title, source.extracted.html) == ("Hello", "Body")
