"""First-run setup: config file, secret key, folders, database schema, lists."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from dispatch import config
from dispatch.config import Settings
from dispatch.lists import seed_lists
from dispatch.store import migrate
from dispatch.store.database import Database, check_connection


@dataclass
class InitReport:
    config_created: bool = False
    secret_created: bool = False
    folders: list[Path] = field(default_factory=list)
    revision: str | None = None
    lists: list[str] = field(default_factory=list)
    lists_kept: list[str] = field(default_factory=list)  # edited by editors: config ignored


def default_config_text() -> str:
    return files("dispatch").joinpath("defaults/config.toml").read_text(encoding="utf-8")


def initialise(path: Path) -> tuple[Settings, InitReport]:
    """Make a working installation at `path`; safe to run again (nothing is overwritten)."""
    report = InitReport()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_config_text(), encoding="utf-8")
        report.config_created = True
    settings = config.load(path)
    report.secret_created = _ensure_secret(settings.security.secret_key_file)
    for folder in (settings.delivery.outbox.dir, settings.feeds.public_dir):
        folder.mkdir(parents=True, exist_ok=True)
        report.folders.append(folder)
    database = Database(settings.database)
    try:
        report.revision = upgrade_database(database)
        with database.session() as session:
            rows, seeded = seed_lists(session, settings)
            report.lists, report.lists_kept = [row.slug for row in rows], seeded.kept
    finally:
        database.dispose()
    return settings, report


def upgrade_database(database: Database) -> str | None:
    check_connection(database.engine)
    migrate.upgrade(database.engine)
    return migrate.current(database.engine)


def _ensure_secret(path: Path | None) -> bool:
    if path is None or path.exists() or os.environ.get("DISPATCH_SECRET_KEY"):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    return True
