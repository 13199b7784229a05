"""/api/articles: create through the importer's path, list, search, get, update, publish,
unpublish, delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import DATA
from dispatch.config import Settings
from dispatch.ingest import import_paths
from dispatch.store.database import Database
from support.api import SECRET, api_client


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with api_client(settings, db) as test_client:
        yield test_client


def create(client: TestClient, **fields: object) -> dict:
    response = client.post("/api/articles", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_from_markdown_sanitises_and_slugs_like_a_file(client: TestClient) -> None:
    article = create(
        client,
        title="Café au lait!",
        body_markdown="Hello **world** <script>alert(1)</script>\n\n[x](/relative)",
        section="World News",
        tags=["a", " a ", "b"],
    )
    assert article["slug"] == "cafe-au-lait"
    assert article["action"] == "created"
    assert article["section"] == "world-news"
    assert article["tags"] == ["a", "b"]
    assert "<strong>world</strong>" in article["body_html"]
    assert "<script>" not in article["body_html"]
    assert 'href="http://127.0.0.1:8000/relative"' in article["body_html"]
    assert article["body_markdown"].startswith("Hello **world**")
    assert article["status"] == "published" and article["published_at"]
    assert article["summary"].startswith("Hello world")
    assert article["source"] == "api"
    assert article["url"] == "http://127.0.0.1:8000/articles/cafe-au-lait"
    second = create(client, title="Café au lait!", body_html="<p>Another</p>", status="draft")
    assert second["slug"] == "cafe-au-lait-2"
    assert second["status"] == "draft" and second["published_at"] is None
    assert second["body_markdown"] is None


def test_control_characters_never_reach_the_store(client: TestClient) -> None:
    article = create(client, title="Controls", body_html="[x](http://a/\x01b) \x0bc")
    assert "\x01" not in article["body_html"] and "\x0b" not in article["body_html"]
    assert "http://a/b" in article["body_html"]


def test_title_from_the_leading_heading_and_external_id_updates(client: TestClient) -> None:
    first = create(client, body_markdown="# From the heading\n\nText.", external_id="cms-1")
    assert first["title"] == "From the heading"
    again = client.post(
        "/api/articles",
        json={"body_markdown": "# From the heading\n\nNew.", "external_id": "cms-1"},
    )
    assert again.status_code == 200
    assert again.json()["action"] == "updated"
    assert again.json()["id"] == first["id"]
    same = client.post(
        "/api/articles",
        json={"body_markdown": "# From the heading\n\nNew.", "external_id": "cms-1"},
    )
    assert same.status_code == 200 and same.json()["action"] == "unchanged"


def test_ingest_errors_are_422_naming_the_field(client: TestClient) -> None:
    cases = [
        ({"body_markdown": "no heading here"}, "body.title", "no title"),
        ({"title": "T", "body_markdown": "   "}, "body.body_markdown", "no body"),
        (
            {"title": "T", "body_html": "<p>x</p>", "canonical_url": "/rel"},
            "body.canonical_url",
            "absolute",
        ),
        ({"title": "T"}, "body", "body_markdown or body_html"),
        ({"title": "T", "body_markdown": "x", "body_html": "<p>x</p>"}, "body", "not both"),
        ({"title": "T", "body_markdown": "x", "status": "gone"}, "body.status", ""),
        ({"title": "T", "body_markdown": "x", "colour": "red"}, "body.colour", ""),
    ]
    for payload, field, words in cases:
        response = client.post("/api/articles", json=payload)
        assert response.status_code == 422, (payload, response.text)
        error = response.json()["error"]
        assert error["field"] == field, (payload, error)
        assert words in error["message"], (payload, error)


def test_list_paginates_searches_and_filters(client: TestClient) -> None:
    for number in range(5):
        status = "draft" if number == 4 else "published"
        create(client, title=f"Story {number}", body_markdown=f"Body {number}", status=status)
    create(client, title="Elephants", body_markdown="Big ones", summary="About elephants")
    first = client.get("/api/articles", params={"per_page": 2}).json()
    assert first["total"] == 6 and first["page"] == 1 and first["per_page"] == 2
    assert len(first["items"]) == 2 and "body_html" not in first["items"][0]
    seen = [item["slug"] for item in first["items"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [item["slug"] for item in page["items"]]
        url = page["next"]
    assert len(seen) == 6 == len(set(seen))
    assert seen[-1] == "story-4"  # never published: last
    found = client.get("/api/articles", params={"q": "ELEPHANT"}).json()
    assert [item["slug"] for item in found["items"]] == ["elephants"]
    drafts = client.get("/api/articles", params={"status": "draft"}).json()
    assert [item["slug"] for item in drafts["items"]] == ["story-4"]
    assert client.get("/api/articles", params={"q": "100%_"}).json()["total"] == 0
    bad = client.get("/api/articles", params={"per_page": 101})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "query.per_page"


def test_get_by_id_or_slug_and_404(client: TestClient) -> None:
    made = create(client, title="Findable", body_markdown="Body")
    assert client.get(f"/api/articles/{made['id']}").json()["slug"] == "findable"
    assert client.get("/api/articles/findable").json()["id"] == made["id"]
    missing = client.get("/api/articles/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == 'no article "nothing-here" (by id or slug)'
    assert client.get("/api/articles/99999").status_code == 404


def test_patch_changes_fields_keeps_the_slug_and_reimports(client: TestClient) -> None:
    made = create(client, title="Old title", body_markdown="First *body*", tags=["x"])
    patched = client.patch(
        f"/api/articles/{made['id']}", json={"title": "New title", "section": "Culture"}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["action"] == "updated"
    assert body["title"] == "New title" and body["slug"] == "old-title"
    assert body["section"] == "culture" and body["tags"] == ["x"]
    assert "<em>body</em>" in body["body_html"]  # re-imported from the kept Markdown
    renamed = client.patch("/api/articles/old-title", json={"slug": "new-title"}).json()
    assert renamed["slug"] == "new-title" and renamed["former_slugs"] == ["old-title"]
    gone = client.get("/api/articles/old-title")
    assert gone.status_code == 404 and "renamed" in gone.json()["error"]["message"]
    cleared = client.patch("/api/articles/new-title", json={"section": None, "tags": None})
    assert cleared.json()["section"] is None and cleared.json()["tags"] == ["x"]
    html = client.patch("/api/articles/new-title", json={"body_html": "<p>Now <b>HTML</b></p>"})
    assert html.json()["body_markdown"] is None and "<b>HTML</b>" in html.json()["body_html"]
    assert client.patch("/api/articles/nope", json={"title": "x"}).status_code == 404
    empty = client.patch("/api/articles/new-title", json={"body_markdown": ""})
    assert empty.status_code == 422


def test_patch_an_imported_file_article(
    client: TestClient, settings: Settings, db: Database
) -> None:
    import_paths(db, settings, [DATA / "article-plain.txt"])
    listed = client.get("/api/articles").json()["items"]
    assert len(listed) == 1 and listed[0]["source"] == "file"
    slug = listed[0]["slug"]
    patched = client.patch(f"/api/articles/{slug}", json={"tags": ["imported"]}).json()
    assert patched["tags"] == ["imported"] and patched["slug"] == slug
    assert patched["source"] == "file"
    assert client.get("/api/articles").json()["total"] == 1


def test_publish_unpublish_delete(client: TestClient) -> None:
    made = create(client, title="Toggle", body_markdown="Body", status="draft")
    published = client.post("/api/articles/toggle/publish").json()
    assert published["status"] == "published" and published["published_at"]
    again = client.post("/api/articles/toggle/unpublish").json()
    assert again["status"] == "draft" and again["published_at"] == published["published_at"]
    assert client.delete(f"/api/articles/{made['id']}").status_code == 204
    assert client.get("/api/articles/toggle").status_code == 404
    assert client.delete("/api/articles/toggle").status_code == 404
    assert client.post("/api/articles/toggle/publish").status_code == 404
