"""The reading pages: home, articles (old slugs, drafts), archive (public copies), 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.campaigns import create_article, start_campaign
from dispatch.campaigns.create import Options
from dispatch.campaigns.lifecycle import move
from dispatch.config import Settings
from dispatch.render.prepared import Recipient
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleSlug, ArticleStatus, Campaign, CampaignStatus
from dispatch.store.types import utcnow
from dispatch.urls import Urls
from dispatch.web import create_app
from dispatch.web.archive import strip_signed_links
from support.campaigns import add_article, add_subscribers

BASE = "http://127.0.0.1:8000"


class Tags(HTMLParser):
    """Every start tag with its attributes, for asserting on <link> and <meta>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **match: str) -> list[dict[str, str]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in match.items())
        ]

    def meta(self, prop: str) -> str | None:
        found = self.find("meta", property=prop)
        return found[0]["content"] if found else None


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def set_article(db: Database, slug: str, **values: object) -> None:
    with db.session() as session:
        article = session.scalar(select(Article).where(Article.slug == slug))
        assert article is not None
        for name, value in values.items():
            setattr(article, name, value)


def sent_campaign(db: Database, settings: Settings, slug: str, test_to: str | None = None) -> str:
    """A one-off campaign of article `slug` to morning-briefing, started and marked sent."""
    now = utcnow()
    with db.session() as session:
        created = create_article(
            session, settings, slug, "morning-briefing", now, Options(test_to=test_to)
        )
        campaign = created.campaign
        start_campaign(session, campaign, settings, now, allow_empty=True)
        move(campaign, CampaignStatus.SENT)
        campaign.finished_at = now
        return campaign.key


def test_home_lists_published_articles_newest_first_and_the_lists(
    client: TestClient, db: Database
) -> None:
    now = utcnow()
    for number in range(12):
        add_article(db, f"story-{number}", published_at=now - timedelta(hours=12 - number))
    add_article(db, "secret-draft", published_at=now)
    set_article(db, "secret-draft", status=ArticleStatus.DRAFT)
    first = client.get("/")
    assert first.status_code == 200
    slugs = re.findall(r'href="[^"]*/articles/([^"]+)"', first.text)
    assert slugs == [f"story-{n}" for n in range(11, 1, -1)]
    assert "secret-draft" not in first.text
    assert f'href="{BASE}/subscribe?list=morning-briefing"' in first.text
    assert f'href="{BASE}/subscribe?list=weekly-review"' in first.text
    assert 'href="http://127.0.0.1:8000/?page=2"' in first.text
    second = client.get("/?page=2")
    assert re.findall(r'href="[^"]*/articles/([^"]+)"', second.text) == ["story-1", "story-0"]
    assert client.get("/?page=3").status_code == 404
    for bad in ("0", "-1", "abc", "1e3", "99999999999"):
        assert client.get(f"/?page={bad}").status_code == 404, bad


def test_an_article_page_has_feeds_open_graph_and_canonical(
    client: TestClient, db: Database
) -> None:
    add_article(db, "storm-warning", section="World", title="Storm warning")
    set_article(db, "storm-warning", image="/media/storm.jpg", image_caption="Clouds")
    response = client.get("/articles/storm-warning")
    assert response.status_code == 200
    tags = Tags(response.text)
    url = f"{BASE}/articles/storm-warning"
    assert tags.find("html")[0]["lang"] == "en"
    assert tags.find("link", rel="canonical") == [{"rel": "canonical", "href": url}]
    alternates = {a["href"]: (a["type"], a["title"]) for a in tags.find("link", rel="alternate")}
    for path, kind in (
        ("rss.xml", "application/rss+xml"),
        ("sections/world/atom.xml", "application/atom+xml"),
        ("lists/morning-briefing/feed.json", "application/feed+json"),
    ):
        assert alternates[f"{BASE}/feeds/{path}"][0] == kind
        assert alternates[f"{BASE}/feeds/{path}"][1]
    assert not any("weekly-review" in href for href in alternates)  # culture only
    assert tags.meta("og:type") == "article"
    assert tags.meta("og:title") == "Storm warning"
    assert tags.meta("og:url") == url
    assert tags.meta("og:description") == "Summary of storm-warning"
    assert tags.meta("og:image") == f"{BASE}/media/storm.jpg"
    assert "<p>Body of the story.</p>" in response.text


def test_canonical_url_of_a_republished_article(client: TestClient, db: Database) -> None:
    add_article(db, "from-elsewhere")
    set_article(db, "from-elsewhere", canonical_url="https://origin.example/story")
    tags = Tags(client.get("/articles/from-elsewhere").text)
    assert tags.find("link", rel="canonical")[0]["href"] == "https://origin.example/story"
    assert tags.meta("og:url") == "https://origin.example/story"
    assert tags.meta("og:image") is None


def test_an_old_slug_redirects_and_drafts_are_not_found(client: TestClient, db: Database) -> None:
    article_id = add_article(db, "new-name")
    draft_id = add_article(db, "unfinished")
    set_article(db, "unfinished", status=ArticleStatus.DRAFT)
    with db.session() as session:
        session.add(ArticleSlug(slug="old-name", article_id=article_id))
        session.add(ArticleSlug(slug="old-unfinished", article_id=draft_id))
    moved = client.get("/articles/old-name")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"{BASE}/articles/new-name"
    for path in ("/articles/unfinished", "/articles/old-unfinished", "/articles/never-was"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "find that page" in response.text
        assert Tags(response.text).find("html")[0]["lang"] == "en"


def test_archive_shows_sent_campaigns_and_hides_tests(
    client: TestClient, db: Database, settings: Settings
) -> None:
    add_article(db, "first-issue", title="First issue")
    add_article(db, "second-issue", title="Second issue")
    older = sent_campaign(db, settings, "first-issue")
    newer = sent_campaign(db, settings, "second-issue")
    test = sent_campaign(db, settings, "second-issue", test_to="editor@example.com")
    index = client.get("/archive")
    assert index.status_code == 200
    assert f'href="{BASE}/archive/morning-briefing"' in index.text
    assert "2 issues" in index.text
    listing = client.get("/archive/morning-briefing")
    links = re.findall(r'href="[^"]*/archive/morning-briefing/([0-9a-f]+)"', listing.text)
    assert links == [newer, older]
    assert test not in listing.text
    assert client.get(f"/archive/morning-briefing/{test}").status_code == 404
    assert client.get("/archive/morning-briefing/0123456789abcdef").status_code == 404
    assert client.get(f"/archive/weekly-review/{newer}").status_code == 404
    assert client.get("/archive/no-such-list").status_code == 404


def test_archive_list_orders_newest_first(
    client: TestClient, db: Database, settings: Settings
) -> None:
    add_article(db, "a-story")
    keys = [sent_campaign(db, settings, "a-story") for _ in range(3)]
    with db.session() as session:
        for offset, key in enumerate(keys):
            campaign = session.scalar(select(Campaign).where(Campaign.key == key))
            assert campaign is not None
            campaign.started_at = utcnow() - timedelta(days=10 - offset)
    listing = client.get("/archive/morning-briefing")
    links = re.findall(r'href="[^"]*/archive/morning-briefing/([0-9a-f]+)"', listing.text)
    assert links == list(reversed(keys))


def test_the_web_version_carries_no_personal_links_or_tokens(
    client: TestClient, db: Database, settings: Settings
) -> None:
    add_subscribers(db, "morning-briefing", 2)
    add_article(db, "big-news", title="Big news today")
    key = sent_campaign(db, settings, "big-news")
    with db.session() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.key == key))
        assert campaign is not None
        snapshot_html = str(campaign.snapshot and campaign.snapshot["html"])
    response = client.get(f"/archive/morning-briefing/{key}")
    assert response.status_code == 200
    page = response.text
    assert "Big news today" in page
    assert Tags(page).find("link", rel="canonical")[0]["href"] == (
        f"{BASE}/archive/morning-briefing/{key}"
    )
    for personal in ("/unsubscribe/", "/preferences/", "/confirm/", "user0@", "User 0", "zz"):
        assert personal not in page, personal
    assert f"{BASE}/subscribe?list=morning-briefing" in page
    assert "your address" in page
    assert "Unsubscribe" in snapshot_html  # the mail had the link; the copy points elsewhere


def test_strip_signed_links_catches_tokens_left_in_the_html() -> None:
    urls = Urls(BASE)
    html = (
        f'<a href="{urls.unsubscribe("abc.DEF-123")}">x</a> '
        f"{urls.preferences('tok')} <a href='{urls.confirm('t0k')}'>c</a> "
        f'<a href="{BASE}/subscribe">keep</a>'
    )
    cleaned = strip_signed_links(html, urls, f"{BASE}/subscribe?list=a")
    assert "abc.DEF" not in cleaned and "tok" not in cleaned and "t0k" not in cleaned
    assert cleaned.count(f"{BASE}/subscribe?list=a") == 3
    assert f'<a href="{BASE}/subscribe">keep</a>' in cleaned
    assert Recipient(email="x").unsubscribe_url == ""


def test_unknown_paths_get_the_site_404_and_machines_get_json(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "find that page" in page.text
    assert 'href="http://127.0.0.1:8000/static/site.css"' in page.text
    machine = client.get("/webhooks/nothing-here")
    assert machine.status_code == 404
    assert machine.json() == {"detail": "Not Found"}
