from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.current(db.engine) == migrate.head()


def test_downgrade_to_base_and_up_again(db: Database) -> None:
    config = migrate.alembic_config(db.engine)
    command.downgrade(config, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert {"articles", "subscribers", "campaigns", "deliveries"} <= set(
        inspect(db.engine).get_table_names()
    )
