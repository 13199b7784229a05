"""What every command shares: the chosen config file, loaded once, and the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from dispatch import config
from dispatch.config import Settings
from dispatch.store.database import Database, check_connection

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


@dataclass
class AppContext:
    config_path: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _database: Database | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return config.config_path(self.config_path)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = config.load(self.config_path)
        return self._settings

    def stored_settings(self) -> Settings:
        """The settings with `lists` as the store has them (`dispatch.lists.live_settings`):
        lists created or edited in the admin count, as `--list` names them. Before
        `dispatch init` made the tables, config.toml's lists are all there is."""
        from sqlalchemy import inspect

        from dispatch.lists import live_settings

        database = self.database()
        if not inspect(database.engine).has_table("lists"):
            return self.settings()
        with database.session() as session:
            return live_settings(session, self.settings())

    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings().database)
            check_connection(self._database.engine)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext), "the root callback sets the AppContext"
    return obj
