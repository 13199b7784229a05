"""An article stays one article when its file moves (id, canonical URL, fingerprint), plain
text carries its id in a trailing line or a sidecar, and editors' decisions stick: a
deleted import stays deleted, an edited one is not overwritten, a changed source waits
as a conflict to accept or ignore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dispatch.config import Settings
from dispatch.ingest import Action, import_paths, resolve
from dispatch.ingest.articles import delete_article, unpublish
from dispatch.ingest.decisions import pending
from dispatch.render.feed_ids import entry_id
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus, ArticleTombstone
from support.api import SECRET, api_client

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
DATED = "---\ntitle: Harbour wall repairs\ndate: 2026-04-30 08:00\n---\n\nThe wall is fixed.\n"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _articles(db: Database) -> list[Article]:
    with db.session() as session:
        rows = list(session.scalars(select(Article).order_by(Article.id)))
        session.expunge_all()
        return rows


def test_a_renamed_file_is_the_same_article(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    clock = Clock()
    old = _write(tmp_path / "drafts" / "wall.md", DATED)
    import_paths(db, settings, [tmp_path], now=clock)
    (before,) = _articles(db)
    new = tmp_path / "2026" / "04" / "harbour-wall.md"
    new.parent.mkdir(parents=True)
    old.rename(new)
    report = import_paths(db, settings, [tmp_path], now=clock)
    assert [(i.action, i.path) for i in report.imported] == [(Action.MOVED, new)]
    assert "1 moved" in report.summary()
    (after,) = _articles(db)
    assert after.uid == before.uid  # the same feed id: readers see no duplicate
    assert entry_id(settings, after.uid) == entry_id(settings, before.uid)
    assert after.source_path == str(new.resolve())
    again = import_paths(db, settings, [tmp_path], now=clock)
    assert [i.action for i in again.imported] == [Action.UNCHANGED]


def test_a_copy_beside_the_original_is_a_second_article(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    _write(tmp_path / "a.md", DATED)
    _write(tmp_path / "b.md", DATED)  # same title and date, both files alive
    report = import_paths(db, settings, [tmp_path])
    assert [i.action for i in report.imported] == [Action.CREATED, Action.CREATED]
    assert len(_articles(db)) == 2


def test_canonical_url_finds_a_moved_and_edited_file(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    text = "---\ntitle: Tides\ncanonical_url: https://blog.example/tides\n---\n\nFirst.\n"
    first = _write(tmp_path / "one" / "tides.md", text)
    import_paths(db, settings, [tmp_path])
    first.unlink()
    _write(
        tmp_path / "two" / "tides-final.md",
        text.replace("Tides", "Tide tables").replace("First", "Edited"),
    )
    report = import_paths(db, settings, [tmp_path])
    assert [i.action for i in report.imported] == [Action.MOVED]
    (article,) = _articles(db)
    assert article.title == "Tide tables" and article.body_text == "Edited."


def test_giving_an_old_file_an_id_keeps_its_article(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "note.md", "---\ntitle: Note\n---\n\nBody.\n")
    import_paths(db, settings, [path])
    (before,) = _articles(db)
    _write(path, "---\nid: note-2026\ntitle: Note\n---\n\nBody.\n")
    import_paths(db, settings, [path])
    (after,) = _articles(db)
    assert (after.uid, after.source_id) == (before.uid, "note-2026")


def test_plain_text_carries_its_id_in_a_trailing_line(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    text = "Lighthouse letters\n\nSix hundred letters.\n\nShare this\n\nid: lighthouse-1958\n"
    old = _write(tmp_path / "inbox" / "paste.txt", text)
    import_paths(db, settings, [tmp_path])
    (article,) = _articles(db)
    assert article.source_id == "lighthouse-1958"
    assert "id:" not in article.body_text and "Share this" not in article.body_text
    old.unlink()
    _write(tmp_path / "published" / "letters.txt", text.replace("Six", "More than six"))
    report = import_paths(db, settings, [tmp_path])
    assert [i.action for i in report.imported] == [Action.MOVED]
    assert len(_articles(db)) == 1


def test_plain_text_sidecar_sets_id_and_metadata(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    _write(tmp_path / "letters.txt", "Lighthouse letters\n\nSix hundred letters.\n")
    _write(tmp_path / "letters.yml", "id: lighthouse-sidecar\nsection: Culture\ntags: [letters]\n")
    report = import_paths(db, settings, [tmp_path])
    assert report.ok, report.failed
    (article,) = _articles(db)
    assert (article.source_id, article.section, article.tags) == (
        "lighthouse-sidecar",
        "culture",
        ["letters"],
    )
    _write(tmp_path / "letters.yml", "id: x\ntags: oops\n")
    (error,) = import_paths(db, settings, [tmp_path]).failed
    assert error.path.name == "letters.yml" and "tags" in error.reason


def test_a_deleted_import_is_not_resurrected(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "gone.md", "---\nid: gone\ntitle: Gone\n---\n\nBody.\n")
    import_paths(db, settings, [path])
    with db.session() as session:
        delete_article(session, "gone", T0)
    report = import_paths(db, settings, [path])
    assert [i.action for i in report.imported] == [Action.DELETED]
    assert _articles(db) == []
    _write(path, "---\nid: gone\ntitle: Gone\n---\n\nBody, corrected.\n")
    report = import_paths(db, settings, [path])
    assert [i.action for i in report.imported] == [Action.CONFLICT]
    assert _articles(db) == []
    with db.session() as session:
        (conflict,) = pending(session)
        assert conflict.article_id is None
        article = resolve.accept(session, conflict.id, T0)
        assert article.body_text == "Body, corrected."
        assert session.scalar(select(func.count()).select_from(ArticleTombstone)) == 0
    assert [i.action for i in import_paths(db, settings, [path]).imported] == [Action.UNCHANGED]


def test_an_edited_import_is_not_overwritten(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "story.md", "---\nid: story\ntitle: Story\n---\n\nDraft words.\n")
    import_paths(db, settings, [path])
    with api_client(settings, db) as client:
        edited = client.patch("/api/articles/story", json={"body_markdown": "The editor's words."})
        assert edited.status_code == 200
        assert [i.action for i in import_paths(db, settings, [path]).imported] == [Action.UNCHANGED]
        assert _articles(db)[0].body_text == "The editor's words."
        _write(path, "---\nid: story\ntitle: Story\n---\n\nThe writer's new words.\n")
        report = import_paths(db, settings, [path])
        assert [i.action for i in report.imported] == [Action.CONFLICT]
        assert _articles(db)[0].body_text == "The editor's words."  # nothing overwritten
        (conflict,) = client.get("/api/articles/conflicts").json()
        assert conflict["fields"]["body_text"] == "The writer's new words."
        assert client.post(f"/api/articles/conflicts/{conflict['id']}/ignore").status_code == 204
        assert client.get("/api/articles/conflicts").json() == []
        assert [i.action for i in import_paths(db, settings, [path]).imported] == [Action.UNCHANGED]
        _write(path, "---\nid: story\ntitle: Story\n---\n\nThird version.\n")
        import_paths(db, settings, [path])
        (conflict,) = client.get("/api/articles/conflicts").json()
        assert client.post(f"/api/articles/conflicts/{conflict['id']}/accept").status_code == 204
    assert _articles(db)[0].body_text == "Third version."
    _write(path, "---\nid: story\ntitle: Story\n---\n\nFourth.\n")  # followed again
    assert [i.action for i in import_paths(db, settings, [path]).imported] == [Action.UPDATED]


def test_an_unpublished_import_stays_unpublished(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "x.md", "---\nid: x\ntitle: X\n---\n\nBody.\n")
    import_paths(db, settings, [path])
    with db.session() as session:
        unpublish(session, "x", T0)
    import_paths(db, settings, [path])
    assert _articles(db)[0].status is ArticleStatus.DRAFT


def test_admin_conflict_page_accepts(db: Database, settings: Settings, tmp_path: Path) -> None:
    from support.admin import EDITOR, Admin, add_people
    from support.auth import Sleeps, auth_app

    path = _write(tmp_path / "c.md", "---\nid: c\ntitle: Conflicted\n---\n\nOriginal.\n")
    import_paths(db, settings, [path])
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        admin = Admin(client, EDITOR)
        saved = admin.post(
            "/admin/articles/conflicted/edit",
            {"title": "Conflicted", "body": "Mine.", "status": "published", "action": "save"},
        )
        assert saved.status_code == 303, saved.text
        _write(path, "---\nid: c\ntitle: Conflicted\n---\n\nTheirs.\n")
        import_paths(db, settings, [path])
        listing = admin.get("/admin/articles")
        assert "1 changed source" in listing.text
        page = admin.get("/admin/articles/conflicts")
        assert "-Mine." in page.text and "+Theirs." in page.text
        with db.session() as session:
            (conflict,) = pending(session)
            conflict_id = conflict.id
        done = admin.post(f"/admin/articles/conflicts/{conflict_id}/accept")
        assert done.status_code == 303
    assert _articles(db)[0].body_text == "Theirs."
