from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import Result

from conftest import DATA
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus

Cli = Callable[..., Result]
TIDES = DATA / "articles" / "markdown" / "tide-tables.md"


def _status(db: Database, slug: str) -> tuple[ArticleStatus, object]:
    with db.session() as session:
        article = session.scalars(select(Article).where(Article.slug == slug)).one()
        return article.status, article.published_at


def test_import_prints_each_file_and_a_summary(cli: Cli, db: Database) -> None:
    result = cli("articles", "import", str(TIDES), str(DATA / "article-plain.txt"))
    assert result.exit_code == 0, result.output
    assert "created   tide-tables" in result.output
    assert "2 created, 0 updated, 0 unchanged, 0 failed" in result.output
    again = cli("articles", "import", str(TIDES))
    assert "unchanged tide-tables" in again.output
    assert "0 created, 0 updated, 1 unchanged, 0 failed" in again.output


def test_import_with_failures_exits_1_and_reports_path_and_line(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: ok\nstatus: live\n---\nBody.\n")
    result = cli("articles", "import", str(bad), str(TIDES))
    assert result.exit_code == 1
    assert f"{bad}:3: front matter: status:" in result.output
    assert "1 created, 0 updated, 0 unchanged, 1 failed" in result.output


def test_list_show_publish_unpublish(cli: Cli, db: Database) -> None:
    cli("articles", "import", str(DATA / "articles" / "markdown"))
    listing = cli("articles", "list")
    assert listing.exit_code == 0, listing.output
    assert "tide-tables" in listing.output and "culture" in listing.output
    assert "draft" in listing.output and "published" in listing.output
    drafts = cli("articles", "list", "--status", "draft")
    assert "tide-tables" not in drafts.output

    shown = cli("articles", "show", "tide-tables")
    assert shown.exit_code == 0, shown.output
    assert "Ana Ferreira" in shown.output and "sea, how-to" in shown.output
    assert "Tide tables look like a wall of numbers" in shown.output

    draft = "notes-for-a-column-on-lighthouse-keepers"
    assert cli("articles", "publish", draft).exit_code == 0
    status, published_at = _status(db, draft)
    assert status is ArticleStatus.PUBLISHED and published_at is not None
    assert cli("articles", "unpublish", draft).exit_code == 0
    assert _status(db, draft) == (ArticleStatus.DRAFT, published_at)


def test_delete_asks_unless_yes(cli: Cli, db: Database, tmp_path: Path) -> None:
    cli("articles", "import", str(TIDES))
    refused = cli("articles", "delete", "tide-tables", input="n\n")
    assert refused.exit_code == 1
    assert _status(db, "tide-tables")[0] is ArticleStatus.PUBLISHED
    confirmed = cli("articles", "delete", "tide-tables", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert cli("articles", "show", "tide-tables").exit_code == 2
    again = cli("articles", "import", str(TIDES))  # an editor's deletion sticks
    assert "deleted   tide-tables" in again.output and again.exit_code == 0
    assert cli("articles", "show", "tide-tables").exit_code == 2
    other = tmp_path / "other.md"
    other.write_text("---\ntitle: Other\n---\n\nBody.\n", encoding="utf-8")
    cli("articles", "import", str(other))
    assert cli("articles", "delete", "--yes", "other").exit_code == 0


@pytest.mark.parametrize("command", ["show", "publish", "unpublish", "delete"])
def test_unknown_slug_is_not_found(cli: Cli, db: Database, command: str) -> None:
    result = cli("articles", command, "no-such-article")
    assert result.exit_code == 2
    assert 'error: no article "no-such-article"' in result.output


def test_renamed_slug_points_to_the_new_one(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: Old name\n---\nBody.\n")
    cli("articles", "import", str(path))
    path.write_text("---\ntitle: New name\n---\nBody.\n")
    cli("articles", "import", str(path))
    result = cli("articles", "show", "old-name")
    assert result.exit_code == 2
    assert 'it was renamed to "new-name"' in result.output
    deleted = cli("articles", "delete", "--yes", "new-name")
    assert deleted.exit_code == 0, deleted.output
    gone = cli("articles", "show", "old-name")
    assert 'no article "old-name" (see' in gone.output  # the slug history went too
