from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from typer.testing import Result

from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import MailingList


def test_init_creates_everything_and_is_idempotent(
    cli: Callable[..., Result], config_path: Path
) -> None:
    first = cli("init")
    assert first.exit_code == 0, first.output
    assert "created secret key" in first.output
    secret = config_path.parent / "var" / "secret.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (config_path.parent / "var" / "outbox").is_dir()
    assert (config_path.parent / "var" / "public").is_dir()
    before = secret.read_text()
    second = cli("init")
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert secret.read_text() == before
    assert f"revision {migrate.head()}" in second.output


def test_init_writes_config_when_missing(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from dispatch.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPATCH_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "config.toml").exists()
    assert (tmp_path / "var" / "dispatch.db").exists()


def test_db_upgrade_syncs_lists(cli: Callable[..., Result], settings) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    database = Database(settings.database)
    with database.session() as session:
        slugs = session.scalars(select(MailingList.slug).order_by(MailingList.slug)).all()
    database.dispose()
    assert slugs == ["morning-briefing", "weekly-review"]
    listed = cli("lists", "list")
    assert "Morning Briefing" in listed.output


def test_sqlite_runs_with_wal_and_foreign_keys(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dispatch.cli import app

    result = CliRunner().invoke(app, ["--config", str(tmp_path / "nope.toml"), "lists", "list"])
    assert result.exit_code == 2
    assert "nope.toml: no such file" in result.output
