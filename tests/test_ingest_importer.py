from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from conftest import DATA
from dispatch.config import Settings
from dispatch.ingest import Action, import_paths
from dispatch.ingest import importer as importer_module
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleSlug, ArticleStatus


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int = 5) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _article(db: Database, **where: str) -> Article:
    with db.session() as session:
        query = select(Article).filter_by(**where)
        article = session.scalars(query).one()
        session.expunge(article)
        return article


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Article)) or 0


def test_import_creates_articles_from_a_folder(db: Database, settings: Settings) -> None:
    folder = DATA / "articles"
    report = import_paths(db, settings, [folder, DATA / "article-plain.txt"])
    assert report.ok, report.failed
    assert report.count(Action.CREATED) == 5
    assert report.summary() == "5 created, 0 updated, 0 unchanged, 0 failed"
    tides = _article(db, slug="tide-tables")
    assert tides.source == "file" and tides.source_id == "tide-tables-2025"
    assert len(tides.uid) == 36
    assert tides.status is ArticleStatus.PUBLISHED
    assert tides.tags == ["sea", "how-to"]
    plain = _article(db, source_id=str((DATA / "article-plain.txt").resolve()))
    assert plain.slug.startswith("a-growing-divide-emerges")
    assert "\u2011" in plain.title and "\u2011" in plain.body_text
    assert len(plain.content_hash) == 64
    draft = _article(db, slug="notes-for-a-column-on-lighthouse-keepers")
    assert draft.status is ArticleStatus.DRAFT and draft.published_at is None


def test_reimporting_an_unchanged_file_writes_nothing(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = _write(tmp_path, "a.md", "---\ntitle: Stable\n---\nSame body.\n")
    first = import_paths(db, settings, [path], now=clock)
    before = _article(db, slug="stable")
    clock.advance()
    again = import_paths(db, settings, [path], now=clock)
    after = _article(db, slug="stable")
    assert first.count(Action.CREATED) == 1
    assert again.count(Action.UNCHANGED) == 1 and again.summary().startswith("0 created")
    assert (after.updated_at, after.content_hash, after.uid) == (
        before.updated_at,
        before.content_hash,
        before.uid,
    )
    assert _count(db) == 1


def test_changed_file_updates_the_same_article(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = _write(tmp_path, "a.md", "---\ntitle: Evolving\n---\nFirst version.\n")
    import_paths(db, settings, [path], now=clock)
    before = _article(db, slug="evolving")
    assert before.published_at == clock.now == before.updated_at
    later = clock.advance(60)
    _write(tmp_path, "a.md", "---\ntitle: Evolving\n---\nSecond version.\n")
    report = import_paths(db, settings, [path], now=clock)
    after = _article(db, slug="evolving")
    assert report.count(Action.UPDATED) == 1
    assert (after.id, after.uid, after.created_at) == (before.id, before.uid, before.created_at)
    assert after.published_at == before.published_at
    assert after.updated_at == later
    assert after.body_text == "Second version."
    assert after.content_hash != before.content_hash


def test_front_matter_id_follows_the_article_across_files(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    old = _write(tmp_path, "old-name.md", "---\nid: story-7\ntitle: Moved\n---\nBody.\n")
    import_paths(db, settings, [old])
    uid = _article(db, source_id="story-7").uid
    old.unlink()
    (tmp_path / "sub").mkdir()
    new = _write(tmp_path / "sub", "new-name.md", "---\nid: story-7\ntitle: Moved\n---\nEdited.\n")
    report = import_paths(db, settings, [new])
    assert report.count(Action.MOVED) == 1  # content edited too: still one article
    assert report.summary() == "0 created, 0 updated, 0 unchanged, 1 moved, 0 failed"
    assert _article(db, source_id="story-7").uid == uid
    assert _article(db, source_id="story-7").body_text == "Edited."
    assert _count(db) == 1


def test_slug_collisions_get_numbered(db: Database, settings: Settings, tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, f"{n}.md", f"---\ntitle: Same Title\n---\nBody {n}.\n") for n in range(3)
    ]
    _write(tmp_path, "x.md", "---\ntitle: Other\nslug: same-title\n---\nExplicit slug.\n")
    report = import_paths(db, settings, [tmp_path])
    assert report.ok
    assert sorted(item.slug for item in report.imported) == [
        "same-title",
        "same-title-2",
        "same-title-3",
        "same-title-4",
    ]
    # Re-importing after an edit keeps each article on the slug it already has.
    slug_of_first = _article(db, source_id=str(paths[0].resolve())).slug
    paths[0].write_text("---\ntitle: Same Title\n---\nBody 0, edited.\n")
    again = import_paths(db, settings, [tmp_path])
    assert again.count(Action.UPDATED) == 1 and again.count(Action.UNCHANGED) == 3
    assert _article(db, source_id=str(paths[0].resolve())).slug == slug_of_first


def test_slug_change_is_recorded_for_redirects(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path, "a.md", "---\ntitle: First headline\n---\nBody.\n")
    import_paths(db, settings, [path])
    path.write_text("---\ntitle: Second headline\n---\nBody.\n")
    import_paths(db, settings, [path])
    article = _article(db, slug="second-headline")
    with db.session() as session:
        former = session.scalars(select(ArticleSlug)).all()
        assert [(row.slug, row.article_id) for row in former] == [("first-headline", article.id)]
    # A new article may not take the old slug: its URL still redirects.
    other = _write(tmp_path, "b.md", "---\ntitle: First headline\n---\nAnother.\n")
    report = import_paths(db, settings, [other])
    assert report.imported[0].slug == "first-headline-2"
    # Going back to the first title takes the old slug back and records the second.
    path.write_text("---\ntitle: First headline\n---\nBody.\n")
    import_paths(db, settings, [path])
    with db.session() as session:
        slugs = {row.slug for row in session.scalars(select(ArticleSlug))}
    assert _article(db, id=article.id).slug == "first-headline"
    assert slugs == {"second-headline"}


def test_bad_files_fail_alone(db: Database, settings: Settings, tmp_path: Path) -> None:
    small = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"max_file_bytes": 200})}
    )
    _write(tmp_path, "good.md", "---\ntitle: Good\n---\nFine.\n")
    _write(tmp_path, "bad-yaml.md", "---\ntitle: [oops\n---\nBody.\n")
    _write(tmp_path, "no-title.md", "Body without any title.\n")
    _write(tmp_path, "empty.md", "")
    _write(tmp_path, "huge.txt", "Title\n\n" + "word " * 100)
    (tmp_path / "binary.txt").write_bytes(b"Title\n\n\x00\x01")
    (tmp_path / "latin1.txt").write_bytes("Title\n\nCaf\u00e9\n".encode("latin-1"))
    report = import_paths(db, small, [tmp_path])
    assert report.count(Action.CREATED) == 2  # good.md, and latin1.txt with a warning
    (warning,) = report.warnings
    assert (warning.path.name, warning.line) == ("latin1.txt", 3)
    assert "not UTF-8" in warning.message
    assert not report.ok
    failures = {error.path.name: (error.line, error.reason) for error in report.failed}
    assert failures == {
        "bad-yaml.md": (3, failures["bad-yaml.md"][1]),
        "binary.txt": (3, "binary file (contains NUL bytes)"),
        "empty.md": (1, "file is empty"),
        "huge.txt": (1, "file is 507 bytes, over the 200-byte limit"),
        "no-title.md": (1, failures["no-title.md"][1]),
    }
    assert failures["bad-yaml.md"][1] == (
        "front matter is not valid YAML: did not find expected ',' or ']'"
        " (while parsing a flow sequence started on line 2)"
    )
    assert failures["no-title.md"][1].startswith("no title")
    assert report.summary() == "2 created, 0 updated, 0 unchanged, 5 failed"
    assert _count(db) == 2


def test_duplicate_front_matter_id_in_one_run_fails_the_second(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    _write(tmp_path, "a.md", "---\nid: dup\ntitle: A\n---\nA.\n")
    _write(tmp_path, "b.md", "---\nid: dup\ntitle: B\n---\nB.\n")
    report = import_paths(db, settings, [tmp_path])
    assert report.count(Action.CREATED) == 1
    assert report.failed[0].path.name == "b.md"
    assert 'id "dup" is also used by' in report.failed[0].reason


def test_database_failure_leaves_no_partial_article(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "a-first.md", "---\ntitle: Survives\n---\nBody.\n")
    doomed = _write(tmp_path, "b-doomed.md", "---\ntitle: Doomed\n---\nBody.\n")
    real_apply = importer_module.apply

    def failing_apply(article: Article, *args: object, **kwargs: object) -> None:
        real_apply(article, *args, **kwargs)  # type: ignore[arg-type]
        if article.title == "Doomed":
            session = Session.object_session(article)
            assert session is not None
            session.flush()  # the row is really written inside the transaction...
            raise OperationalError("UPDATE articles", {}, Exception("disk I/O error"))

    monkeypatch.setattr(importer_module, "apply", failing_apply)
    report = import_paths(db, settings, [tmp_path])
    assert [item.slug for item in report.imported] == ["survives"]
    assert str(report.failed[0]) == f"{doomed}:1: not saved, database error: disk I/O error"
    with db.session() as session:  # ...and rolled back with it
        assert session.scalars(select(Article.title)).all() == ["Survives"]


def test_draft_keeps_no_date_and_dated_article_uses_its_date(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    dated = _write(tmp_path, "d.md", "---\ntitle: Dated\ndate: 2024-02-03T10:00:00Z\n---\nB.\n")
    import_paths(
        db, settings, [dated, shutil.copy(DATA / "articles/markdown/draft-note.md", tmp_path)]
    )
    assert _article(db, slug="dated").published_at == datetime(2024, 2, 3, 10, tzinfo=UTC)
    draft = _article(db, slug="notes-for-a-column-on-lighthouse-keepers")
    assert (draft.status, draft.published_at) == (ArticleStatus.DRAFT, None)
