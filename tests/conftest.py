"""Shared fixtures: every store-backed test runs on SQLite and, when
DISPATCH_TEST_DATABASE_URL is set, on PostgreSQL too (in a schema of its own)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner, Result

from dispatch import config
from dispatch.cli import app
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from support.services import postgresql_schema

PG_ENV = "DISPATCH_TEST_DATABASE_URL"
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_ENV) else [])]
DATA = Path(__file__).parent / "data"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL (no tables yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'dispatch.db'}"
        return
    with postgresql_schema() as url:  # fails, never skips, when PostgreSQL is down
        yield url


def write_config(folder: Path, database_url: str, replace: dict[str, str] | None = None) -> Path:
    """The default config.toml with the test database; `replace` swaps whole lines by regex."""
    body = default_config_text()
    body = re.sub(r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{database_url}"', body)
    for pattern, line in (replace or {}).items():
        body, count = re.subn(f"(?m){pattern}", line, body)
        assert count, f"config pattern {pattern!r} matched nothing"
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url)


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return config.load(config_path)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once per test process: each test's store starts as a copy
    (the migrations themselves are tested in test_migrations.py)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()  # the last connection closes: the WAL is folded into the file
    return path


@pytest.fixture
def db(settings: Settings, sqlite_template: Path) -> Iterator[Database]:
    """A migrated database with the configured lists synced."""
    url = settings.database.url
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sqlite_template, target)
    database = Database(settings.database)
    migrate.upgrade(database.engine)  # nothing left to do on a copy of the template
    with database.session() as session:
        sync_lists(session, settings)
    yield database
    database.dispose()


@pytest.fixture
def cli(config_path: Path) -> Callable[..., Result]:
    """Run `dispatch --config <test config> ARGS...` in-process."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, ["--config", str(config_path), *args], input=input)

    return run


CHROMIUM = os.environ.get("DISPATCH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, driven by Playwright (no browser download).

    Fails (never skips) when chromium is missing: `.ci/run` installs it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Folder for this test's screenshots, kept as CI artefacts under artifacts/screenshots."""
    folder = ARTIFACTS / "screenshots" / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
