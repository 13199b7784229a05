"""Hostile article content in every output format: RSS, Atom, JSON Feed, and the email
HTML, text and .eml of a digest and of a single-article send.

The article carries XML-forbidden control characters, `]]>`, emoji (with ZWJ and flag
sequences), Arabic and Hebrew, `<script>` and a 2,000-character title in every text
field. Every output must parse (lxml, json, feedparser, the email package), hold no
forbidden character and no `<script>` element, and still read as the same text.

The stored variant goes through the database (both backends) with the body sanitised
as ingest does; NUL cannot be stored (PostgreSQL refuses it, ingest rejects it), so the
in-memory variant adds it and renders without a store.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree

from dispatch.config import Settings
from dispatch.ingest.sanitize import sanitize_html
from dispatch.render.email import EmailRenderer
from dispatch.render.feed_ids import FeedFormat, site_target
from dispatch.render.feed_items import FeedData, feed_item
from dispatch.render.feeds import FeedFile, build_feeds, render_file
from dispatch.render.prepared import PreparedEmail
from dispatch.render.preview import write_preview
from dispatch.store.database import Database
from dispatch.store.models import Article
from support.feeds import (
    ATOM,
    XML_FORBIDDEN,
    assert_valid_atom,
    assert_valid_json_feed,
    assert_valid_rss,
)

CONTROL = "\x01\x07\x08\x0b\x0c\x1b\x1f"
RTL = "مرحبا بالعالم — שלום עולם"
EMOJI = "🎉 👩‍💻 🇵🇹"
SCRIPT = "<script>alert('x')</script>"
TITLE_CHARS = 2000
FORBIDDEN = re.compile(XML_FORBIDDEN.pattern.replace("\\x00", "\\x00\\x7f"))


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "hostile-content-secret")


def hostile_article(base_url: str, nul: bool = False) -> Article:
    control = CONTROL + ("\x00" if nul else "")
    head = f"Bell{control} ]]> {SCRIPT} & {EMOJI} {RTL} "
    title = (head + "harbour " * TITLE_CHARS)[:TITLE_CHARS]
    body = (
        f"<p>Body ]]&gt; &amp; {EMOJI}{control}</p>{SCRIPT}<p dir='rtl'>{RTL}</p>"
        f"<p><img src='/media/chart.png' alt='chart {RTL}' onerror='alert(1)'></p>"
    )
    return Article(
        uid=str(uuid.UUID(int=7)),
        slug="hostile",
        title=title,
        summary=f"Summary ]]> & <b>not bold</b> {SCRIPT} {RTL} {EMOJI}{control}",
        body_html=sanitize_html(body, f"{base_url}/articles/hostile"),
        body_text=f"Body ]]> {SCRIPT} {RTL} {EMOJI}{control}",
        author=f"Ana ]]> {RTL}{control} <b>",
        section="world",
        tags=["]]>", SCRIPT, RTL, EMOJI + control],
        image="/media/lead.jpg?w=600&h=400",
        image_caption=f"Caption {SCRIPT} {RTL}{control}",
        published_at=datetime(2026, 3, 2, 7, tzinfo=UTC),
        updated_at=datetime(2026, 3, 2, 8, tzinfo=UTC),
        source="test",
        source_id="hostile",
        content_hash="0" * 64,
    )


def readable(text: str) -> str:
    """What a reader should see of a hostile string: forbidden characters gone."""
    return FORBIDDEN.sub("", text)


# --- feeds --------------------------------------------------------------------------------


def check_feeds(files: list[FeedFile], title: str) -> None:
    expected = readable(title)
    assert len(expected) > 1900
    site = {f.format: f for f in files if f.feed == "site"}
    rss = assert_valid_rss(site[FeedFormat.RSS].content, site[FeedFormat.RSS].url)
    atom = assert_valid_atom(site[FeedFormat.ATOM].content, site[FeedFormat.ATOM].url)
    document = assert_valid_json_feed(site[FeedFormat.JSON].content, site[FeedFormat.JSON].url)
    for root in (rss, atom):
        assert not [e for e in root.iter() if etree.QName(e).localname == "script"]
    assert rss.find("channel/item/title").text == expected
    assert atom.find(f"{ATOM}entry/{ATOM}title").text == expected
    [item] = document["items"]
    assert item["title"] == expected
    assert item["tags"] == ["]]>", SCRIPT, RTL, EMOJI]
    assert item["authors"] == [{"name": f"Ana ]]> {RTL} <b>"}]
    assert item["image"].endswith("/media/lead.jpg?w=600&h=400")
    body = lxml.html.fragment_fromstring(item["content_html"], create_parent="div")
    assert body.find(".//script") is None and body.find(".//img").get("onerror") is None
    assert RTL in body.text_content() and EMOJI in body.text_content()
    assert "]]>" in body.text_content()
    for file in site.values():
        if file.format is not FeedFormat.JSON:
            parsed = feedparser.parse(file.content)
            [entry] = parsed.entries
            assert RTL in entry.title and EMOJI in entry.title and "]]>" in entry.title
            assert "<script" not in entry.get("content", [{}])[0].get("value", "")


def test_stored_hostile_article_gives_well_formed_feeds(db: Database, settings: Settings):
    article = hostile_article(settings.site.base_url)
    with db.session() as session:
        session.add(article)
    with db.session() as session:
        files = build_feeds(session, settings)
    check_feeds(files, article.title)
    rendered = {f.path for f in files}
    assert {"sections/world/rss.xml", "lists/morning-briefing/feed.json"} <= rendered


def test_hostile_article_with_nul_gives_well_formed_feeds(settings: Settings):
    article = hostile_article(settings.site.base_url, nul=True)
    data = FeedData(site_target(settings), (feed_item(settings, article),))
    files = [render_file(settings, data, fmt) for fmt in FeedFormat]
    check_feeds(files, article.title)
    assert json.loads(files[2].content)["items"][0]["summary"].endswith(EMOJI)


# --- email --------------------------------------------------------------------------------


def check_email(folder: Path, title: str) -> None:
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    raw = (folder / "email.eml").read_bytes()
    expected = readable(title)
    for part in (html, text):
        assert not FORBIDDEN.search(part), "control character in the email"
    tree = lxml.html.document_fromstring(html)
    assert tree.find(".//script") is None
    assert all(img.get("onerror") is None for img in tree.iter("img"))
    visible = " ".join(tree.text_content().split())
    assert " ".join(expected.split()) in visible  # the whole title, escaped, readable
    assert RTL in visible and EMOJI in visible and SCRIPT in visible  # as text
    assert " ".join(expected.split()) in " ".join(text.split())
    assert RTL in text and EMOJI in text

    for line in raw.split(b"\r\n"):
        assert len(line) <= 998, f"line of {len(line)} bytes"
    message = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    subject = str(message["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert not FORBIDDEN.search(subject)
    assert RTL in subject and EMOJI in subject and "]]>" in subject
    assert b"\x00" not in raw
    plain, rich = message.iter_parts()
    assert " ".join(plain.get_content().split()) == " ".join(text.split())
    assert " ".join(rich.get_content().split()) == " ".join(html.split())


@pytest.mark.parametrize("kind", ["digest", "article"])
def test_stored_hostile_article_gives_clean_emails(
    db: Database, settings: Settings, tmp_path: Path, kind: str
):
    with db.session() as session:
        session.add(hostile_article(settings.site.base_url))
    with db.session() as session:
        article = session.query(Article).one()
        prepared = _render(settings, article, kind)
        title = article.title
    write_preview(prepared, settings, settings.list("morning-briefing"), tmp_path)
    check_email(tmp_path, title)


@pytest.mark.parametrize("kind", ["digest", "article"])
def test_hostile_article_with_nul_gives_clean_emails(settings: Settings, tmp_path: Path, kind: str):
    article = hostile_article(settings.site.base_url, nul=True)
    prepared = _render(settings, article, kind)
    write_preview(prepared, settings, settings.list("morning-briefing"), tmp_path)
    check_email(tmp_path, article.title)


def _render(settings: Settings, article: Article, kind: str) -> PreparedEmail:
    renderer = EmailRenderer(settings)
    if kind == "digest":
        return renderer.digest("morning-briefing", [article], "2026-03-02")
    return renderer.article(article, "morning-briefing", "hostile")
