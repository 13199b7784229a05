"""Admin articles: write in Markdown with a preview, edit, publish, search, upload files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-articles-secret")


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


STORY = {
    "title": "Harbour <b>reopens</b>",
    "section": "World",
    "tags": "ports, weather",
    "status": "published",
    "body": "It **reopened**.\r\n\r\n<script>alert(1)</script>\r\n\r\n- one\r\n- two\r\n",
}


def article(db: Database, slug: str) -> Article:
    with db.session() as session:
        found = session.scalar(select(Article).where(Article.slug == slug))
        assert found is not None
        return found


def test_preview_renders_and_sanitises_without_saving(admin: Admin, db: Database) -> None:
    page = admin.post("/admin/articles/new", {**STORY, "action": "preview"})
    assert page.status_code == 200
    pane = page.text.split('id="preview"', 1)[1]
    assert "<strong>reopened</strong>" in pane and "<li>one</li>" in pane
    assert "<script>alert" not in page.text and "alert(1)" not in pane
    assert 'value="Harbour &lt;b&gt;reopens&lt;/b&gt;"' in page.text  # the form keeps it
    with db.session() as session:
        assert session.scalar(select(Article.id)) is None
    fragment = admin.post("/admin/articles/preview", STORY)
    assert "<strong>reopened</strong>" in fragment.text and "<script" not in fragment.text


def test_save_creates_the_article_and_keeps_its_markdown(admin: Admin, db: Database) -> None:
    saved = admin.post("/admin/articles/new", {**STORY, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/articles/harbour-b-reopens-b/edit?notice=saved"
    stored = article(db, "harbour-b-reopens-b")
    assert stored.title == "Harbour <b>reopens</b>" and stored.section == "world"
    assert stored.tags == ["ports", "weather"] and stored.status is ArticleStatus.PUBLISHED
    assert stored.source == "admin" and "<script" not in stored.body_html
    assert stored.body_markdown == STORY["body"].replace("\r\n", "\n")
    page = admin.get(saved.headers["location"])
    assert "Saved." in page.text and "**reopened**" in page.text
    assert "Harbour <b>reopens</b>" not in page.text  # escaped everywhere
    listing = admin.get("/admin/articles?q=REOPENS")
    assert "Harbour &lt;b&gt;reopens&lt;/b&gt;" in listing.text


def test_edit_keeps_the_slug_and_publish_toggles(admin: Admin, db: Database) -> None:
    admin.post("/admin/articles/new", {**STORY, "slug": "harbour", "action": "save"})
    edited = {**STORY, "slug": "harbour", "title": "Harbour reopens at last", "action": "save"}
    assert admin.post("/admin/articles/harbour/edit", edited).status_code == 303
    assert article(db, "harbour").title == "Harbour reopens at last"
    assert (
        admin.post("/admin/articles/harbour/unpublish")
        .headers["location"]
        .endswith("notice=unpublished")
    )
    assert article(db, "harbour").status is ArticleStatus.DRAFT
    assert "Harbour reopens at last" not in admin.get("/admin/articles?status=published").text
    admin.post("/admin/articles/harbour/publish")
    assert article(db, "harbour").status is ArticleStatus.PUBLISHED
    assert admin.post("/admin/articles/harbour/delete").status_code == 303
    assert admin.get("/admin/articles/harbour/edit").status_code == 404


def test_a_form_without_body_or_title_says_why(admin: Admin) -> None:
    page = admin.post("/admin/articles/new", {"title": "", "body": "just words", "action": "save"})
    assert page.status_code == 400 and "no title" in page.text
    page = admin.post("/admin/articles/new", {"title": "T", "body": " ", "action": "save"})
    assert page.status_code == 400 and "no body" in page.text


def test_upload_imports_files_and_reports_errors_by_line(admin: Admin, db: Database) -> None:
    good = b"---\ntitle: Tide tables\nsection: world\n---\nHigh water at noon.\n"
    bad = b"---\ntitle: Broken\ndate: [unclosed\n---\nBody\n"
    files = [
        ("files", ("tides.md", good, "text/markdown")),
        ("files", ("broken.md", bad, "text/markdown")),
        ("files", ("photo.png", b"\x89PNG", "image/png")),
    ]
    page = admin.post("/admin/articles/import", files=files)
    assert page.status_code == 400
    assert "1 created, 0 updated, 0 unchanged, 2 failed" in page.text
    assert "broken.md:4: front matter is not valid YAML" in page.text
    assert "photo.png:1: unsupported file type" in page.text
    assert article(db, "tide-tables").body_text == "High water at noon."
    again = admin.post("/admin/articles/import", files=[files[0]])  # same name: same article
    assert again.status_code == 200 and "0 created, 0 updated, 1 unchanged" in again.text
    changed = good.replace(b"noon", b"one")
    admin.post("/admin/articles/import", files=[("files", ("tides.md", changed, "text/markdown"))])
    assert article(db, "tide-tables").body_text == "High water at one."
