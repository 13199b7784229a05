"""Every feed file meets the STANDARDS.md "Feeds" rules (checked with lxml, the JSON Feed
rules and feedparser), including for a hostile but realistic article."""

from __future__ import annotations

import json

import pytest

from dispatch.config import Settings
from dispatch.render.feed_ids import FeedFormat
from dispatch.render.feeds import FeedFile, build_feeds
from dispatch.store.database import Database
from support.feeds import (
    ATOM,
    CONTENT,
    add_article,
    assert_feedparser_reads,
    assert_valid_atom,
    assert_valid_json_feed,
    assert_valid_rss,
    at,
)

HUBS = ("https://hub.example/", "http://127.0.0.1:9/websub")
NASTY_TITLE = "Rock & Roll <Live> \"Quoted\" 'single' 😀 non\u2011breaking\x0b end"
CLEAN_TITLE = "Rock & Roll <Live> \"Quoted\" 'single' 😀 non\u2011breaking end"
NASTY_BODY = (
    '<p>Fish &amp; chips &lt;3 "quoted" 😀 a\u2011b\x0b.</p>'
    '<p><a href="/articles/other">other</a> <a href="../up">up</a> '
    '<a href="#notes">notes</a> <a href="https://elsewhere.example/x">abs</a></p>'
    '<figure><img src="images/photo.jpg" alt="A &amp; B" '
    'srcset="images/photo-2x.jpg 2x, /img/photo-3x.jpg 3x"></figure>'
)


def _settings(settings: Settings, **feeds: object) -> Settings:
    update = {"hubs": HUBS, **feeds}
    return settings.model_copy(update={"feeds": settings.feeds.model_copy(update=update)})


def _files(db: Database, settings: Settings) -> list[FeedFile]:
    with db.session() as session:
        return build_feeds(session, settings)


def _check(file: FeedFile) -> None:
    if file.format is FeedFormat.RSS:
        assert_valid_rss(file.content, file.url, hubs=len(HUBS))
    elif file.format is FeedFormat.ATOM:
        assert_valid_atom(file.content, file.url, hubs=len(HUBS))
    else:
        document = assert_valid_json_feed(file.content, file.url)
        assert document["hubs"] == [{"type": "WebSub", "url": hub} for hub in HUBS]


@pytest.mark.parametrize("full_text", [True, False])
def test_every_feed_file_is_valid(db: Database, settings: Settings, full_text: bool):
    with db.session() as session:
        add_article(session, "w", at(1), section="world", image="/i/w.webp")
        add_article(session, "c", at(2), section="culture", author=None, tags=[])
        add_article(session, "t", at(3), section="technology", summary="", body_html="")
    files = _files(db, _settings(settings, full_text=full_text))
    assert len(files) == 6 * 3
    for file in files:
        _check(file)


def test_empty_feeds_are_valid(db: Database, settings: Settings):
    for file in _files(db, _settings(settings)):
        assert file.entries == 0
        _check(file)


def test_hostile_article_is_escaped_cleaned_and_absolute(db: Database, settings: Settings):
    with db.session() as session:
        add_article(
            session,
            "rock-roll",
            at(4),
            title=NASTY_TITLE,
            summary='Summary with <script>alert("x")</script> & \x0bcontrol',
            body_html=NASTY_BODY,
            author="Zoë O'Brien & Co\x0b",
            tags=["R&D", "<tag>", "R&D"],
        )
    files = {f.path: f for f in _files(db, _settings(settings))}
    for file in files.values():
        _check(file)
        assert b"\x0b" not in file.content

    base = "http://127.0.0.1:8000"
    expected_links = [
        f"{base}/articles/other",
        f"{base}/up",
        f"{base}/articles/rock-roll#notes",
        "https://elsewhere.example/x",
    ]
    rss = assert_feedparser_reads(files["rss.xml"].content)
    atom = assert_feedparser_reads(files["atom.xml"].content)
    for parsed in (rss, atom):
        entry = parsed.entries[0]
        assert entry.title == CLEAN_TITLE
        assert entry.author == "Zoë O'Brien & Co"
        assert [t.term for t in entry.tags] == ["R&D", "<tag>"]
        assert entry.id.startswith("tag:dispatch.example,2026:article:")
        html = entry.content[0].value
        for link in expected_links:
            assert f'href="{link}"' in html
        assert f'src="{base}/articles/images/photo.jpg"' in html
        # plain text became escaped HTML: readers show the characters, never run markup
        assert entry.summary == 'Summary with &lt;script&gt;alert("x")&lt;/script&gt; &amp; control'

    document = json.loads(files["feed.json"].content)
    item = document["items"][0]
    assert item["title"] == CLEAN_TITLE
    assert (
        f'srcset="{base}/articles/images/photo-2x.jpg 2x, {base}/img/photo-3x.jpg 3x"'
        in (item["content_html"])
    )
    assert "a\u2011b." in item["content_html"] and "😀" in item["content_html"]


def test_html_is_escaped_text_never_cdata_or_markup(db: Database, settings: Settings):
    from lxml import etree

    with db.session() as session:
        add_article(session, "a", at(1), body_html="<p>One <b>bold</b> &amp; two</p>")
    files = {f.path: f for f in _files(db, _settings(settings))}
    atom = etree.fromstring(files["atom.xml"].content)
    content = atom.find(f"{ATOM}entry/{ATOM}content")
    assert content.get("type") == "html" and len(content) == 0
    assert content.text == "<p>One <b>bold</b> &amp; two</p>"
    assert b"&lt;b&gt;bold&lt;/b&gt; &amp;amp; two" in files["atom.xml"].content
    rss = etree.fromstring(files["rss.xml"].content)
    encoded = rss.find(f"channel/item/{CONTENT}")
    assert len(encoded) == 0 and encoded.text == "<p>One <b>bold</b> &amp; two</p>"
    guid = rss.find("channel/item/guid")
    assert guid.get("isPermaLink") == "false"


def test_rss_channel_link_is_the_site_not_the_feed(db: Database, settings: Settings):
    from lxml import etree

    files = {f.path: f for f in _files(db, _settings(settings))}
    channel = etree.fromstring(files["lists/weekly-review/rss.xml"].content).find("channel")
    assert channel.findtext("link") == "http://127.0.0.1:8000/"
    hubs = [x.get("href") for x in channel.findall(f"{ATOM}link") if x.get("rel") == "hub"]
    assert hubs == list(HUBS)
    assert channel.findtext("title") == "The Dispatch: Weekly Review"
