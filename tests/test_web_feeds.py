"""GET/HEAD /feeds/…: the published files with validators, 304s, gzip, WebSub links, 404s."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_config
from dispatch.config import DatabaseSettings, Settings
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Article
from dispatch.web import create_app, feed_cache
from dispatch.web.feed_cache import FeedCache, safe_relative
from dispatch.web.feeds import accepts_gzip, etag_matches
from support.campaigns import add_article

HUB = "https://hub.example/websub"
TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url, {r"^hubs = \[\].*$": f'hubs = ["{HUB}"]'})


def publish(settings: Settings, db: Database) -> list[str]:
    with db.session() as session:
        files = build_feeds(session, settings)
    publish_feeds(settings, files, ping=False)
    return [file.path for file in files]


@pytest.fixture
def published(settings: Settings, db: Database) -> list[str]:
    add_article(db, "first-story", section="world")
    add_article(db, "second-story", section="culture")
    return publish(settings, db)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client


def on_disk(settings: Settings, path: str) -> bytes:
    return (settings.feeds.public_dir / path).read_bytes()


def test_every_published_file_is_served_with_its_type_and_validators(
    client: TestClient, settings: Settings, published: list[str]
) -> None:
    assert {"rss.xml", "lists/weekly-review/feed.json", "sections/world/atom.xml"} <= set(published)
    for path in published:
        response = client.get(f"/feeds/{path}", headers=IDENTITY)
        content = on_disk(settings, path)
        assert response.status_code == 200, path
        assert response.content == content
        assert response.headers["content-type"] == TYPES[path.rsplit("/", 1)[-1]]
        assert response.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()[:32]}"'
        mtime = (settings.feeds.public_dir / path).stat().st_mtime
        assert response.headers["last-modified"] == formatdate(int(mtime), usegmt=True)
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["vary"] == "Accept-Encoding"
        assert "content-encoding" not in response.headers
        self_url = f"{settings.site.base_url}/feeds/{path}"
        assert response.headers["link"] == f'<{HUB}>; rel="hub", <{self_url}>; rel="self"'


def test_no_link_header_without_hubs(tmp_path: Path, database_url: str) -> None:
    from dispatch import config

    settings = config.load(write_config(tmp_path, database_url))
    (settings.feeds.public_dir).mkdir(parents=True)
    (settings.feeds.public_dir / "rss.xml").write_bytes(b"<rss/>")
    database = Database(settings.database)
    with TestClient(create_app(settings, database)) as client:
        response = client.get("/feeds/rss.xml")
    database.dispose()
    assert response.status_code == 200
    assert "link" not in response.headers


def test_if_none_match_gives_304_without_a_body(client: TestClient, published: list[str]) -> None:
    first = client.get("/feeds/atom.xml", headers=IDENTITY)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get("/feeds/atom.xml", headers={**IDENTITY, "If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == first.headers["last-modified"]
        assert response.headers["cache-control"] == "public, max-age=300"
        assert "link" in response.headers
    stale = client.get("/feeds/atom.xml", headers={**IDENTITY, "If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == first.content


def test_if_modified_since_gives_304_unless_the_file_is_newer(
    client: TestClient, published: list[str]
) -> None:
    modified = client.get("/feeds/rss.xml").headers["last-modified"]
    moment = parsedate_to_datetime(modified)
    later = format_datetime(moment + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(moment - timedelta(seconds=1), usegmt=True)
    for since, status in ((modified, 304), (later, 304), (earlier, 200), ("yesterday", 200)):
        response = client.get("/feeds/rss.xml", headers={"If-Modified-Since": since})
        assert response.status_code == status, since
        assert (response.content == b"") == (status == 304)


def test_if_none_match_takes_precedence_over_if_modified_since(
    client: TestClient, published: list[str]
) -> None:
    first = client.get("/feeds/feed.json", headers=IDENTITY)
    headers = {
        **IDENTITY,
        "If-None-Match": '"not-this-one"',
        "If-Modified-Since": first.headers["last-modified"],
    }
    assert client.get("/feeds/feed.json", headers=headers).status_code == 200
    headers["If-None-Match"] = first.headers["etag"]
    headers["If-Modified-Since"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert client.get("/feeds/feed.json", headers=headers).status_code == 304


def test_gzip_when_the_client_accepts_it(
    client: TestClient, settings: Settings, published: list[str]
) -> None:
    plain = client.get("/feeds/rss.xml", headers=IDENTITY)
    with client.stream("GET", "/feeds/rss.xml", headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
        headers = zipped.headers
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == on_disk(settings, "rss.xml")
    assert headers["etag"] != plain.headers["etag"]  # another representation, another tag
    again = {"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]}
    assert client.get("/feeds/rss.xml", headers=again).status_code == 304
    refused = client.get("/feeds/rss.xml", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*, gzip;q=0")
    assert not accepts_gzip("*;q=0")
    assert accepts_gzip("x-gzip")


def test_entity_tag_lists() -> None:
    current = ('"abc"', '"abc-gz"')
    assert etag_matches('"abc"', current)
    assert etag_matches('W/"abc-gz"', current)
    assert etag_matches('"x", "y" ,"abc"', current)
    assert etag_matches(" * ", current)
    assert not etag_matches('"ab"', current)
    assert not etag_matches("abc", current)  # not a quoted entity tag


def test_head_answers_headers_only(
    client: TestClient, settings: Settings, published: list[str]
) -> None:
    get = client.get("/feeds/sections/world/rss.xml", headers=IDENTITY)
    head = client.head("/feeds/sections/world/rss.xml", headers=IDENTITY)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(on_disk(settings, "sections/world/rss.xml")))
    for name in ("etag", "last-modified", "content-type", "link"):
        assert head.headers[name] == get.headers[name]
    conditional = {**IDENTITY, "If-None-Match": get.headers["etag"]}
    assert client.head("/feeds/sections/world/rss.xml", headers=conditional).status_code == 304


def test_missing_feeds_traversal_and_dotfiles_are_404(
    client: TestClient, settings: Settings, published: list[str], tmp_path: Path
) -> None:
    public = settings.feeds.public_dir
    (public / ".websub-pending.json").write_text("[]", encoding="utf-8")
    (public / "lists" / ".rss.xml.abc.tmp").write_text("partial", encoding="utf-8")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "rss.xml").write_text("not public", encoding="utf-8")
    (public / "sections" / "escape").symlink_to(tmp_path / "secret")
    (public / "lists" / "folder.xml").mkdir()
    paths = [
        "/feeds/nope.xml",
        "/feeds/lists/no-such-list/rss.xml",
        "/feeds/sections/world/index.html",
        "/feeds/.websub-pending.json",
        "/feeds/lists/.rss.xml.abc.tmp",
        "/feeds/%2e%2e/config.toml",
        "/feeds/sections/%2E%2E/%2e%2e/secret/rss.xml",
        "/feeds/sections/..%2F..%2Fsecret%2Frss.xml",
        "/feeds/lists//rss.xml",
        "/feeds/sections/escape/rss.xml",
        "/feeds/lists/%5c..%5crss.xml",
        "/feeds/rss.xml%00",
        "/feeds/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not public" not in response.text
        assert "text/html" in response.headers["content-type"]


def test_safe_relative_refuses_what_is_not_a_feed_file() -> None:
    assert safe_relative("lists/a/rss.xml") == ("lists", "a", "rss.xml")
    for path in ("", "../rss.xml", "a/./rss.xml", ".hidden/rss.xml", "a\\rss.xml", "a/x.xml"):
        assert safe_relative(path) is None, path


def test_a_rebuild_is_served_at_the_next_request(
    client: TestClient, settings: Settings, db: Database, published: list[str]
) -> None:
    before = client.get("/feeds/atom.xml", headers=IDENTITY)
    publish(settings, db)  # same data, same bytes: the file is not rewritten
    assert client.get("/feeds/atom.xml", headers=IDENTITY).headers == before.headers
    with db.session() as session:
        article = session.scalar(select(Article).where(Article.slug == "first-story"))
        assert article is not None
        article.title = "First story, corrected"
        article.updated_at = article.updated_at + timedelta(minutes=1)
    publish(settings, db)
    after = client.get(
        "/feeds/atom.xml", headers={**IDENTITY, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert b"First story, corrected" in after.content
    assert after.content == on_disk(settings, "atom.xml")
    assert after.headers["etag"] != before.headers["etag"]
    (settings.feeds.public_dir / "atom.xml").unlink()
    assert client.get("/feeds/atom.xml").status_code == 404


def test_the_304_path_needs_no_database_and_reads_the_file_once(
    settings: Settings, published: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[str, ...]] = []
    real = feed_cache.load_feed

    def counting(root: Path, parts: tuple[str, ...]) -> feed_cache.CachedFeed:
        reads.append(parts)
        return real(root, parts)

    monkeypatch.setattr(feed_cache, "load_feed", counting)
    unreachable = Database(DatabaseSettings(url="postgresql+psycopg://nobody@127.0.0.1:9/none"))
    with TestClient(create_app(settings, unreachable)) as client:
        etag = client.get("/feeds/rss.xml", headers=IDENTITY).headers["etag"]
        for _ in range(20):
            response = client.get("/feeds/rss.xml", headers={**IDENTITY, "If-None-Match": etag})
            assert response.status_code == 304
        assert client.get("/feeds/rss.xml", headers=IDENTITY).status_code == 200
    unreachable.dispose()
    assert reads == [("rss.xml",)]


def test_cache_is_consistent_under_concurrent_rewrites(tmp_path: Path) -> None:
    cache = FeedCache(tmp_path)
    target = tmp_path / "rss.xml"
    target.write_bytes(b"<rss>0</rss>")
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            entry = cache.get("rss.xml")
            if entry is None:
                problems.append("missing")
                continue
            digest = hashlib.sha256(entry.content).hexdigest()[:32]
            if entry.etag != f'"{digest}"' or gzip.decompress(entry.gzipped) != entry.content:
                problems.append(f"inconsistent entry for {entry.content!r}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for number in range(1, 200):
        temporary = tmp_path / f".rss.xml.{number}.tmp"
        temporary.write_bytes(f"<rss>{number}</rss>".encode() * number)
        os.replace(temporary, target)
    stop.set()
    for thread in threads:
        thread.join()
    assert problems == []
    final = cache.get("rss.xml")
    assert final is not None and final.content == target.read_bytes()
