"""Alembic environment: uses the engine handed over by dispatch.store.migrate."""

from __future__ import annotations

from alembic import context

from dispatch.store.models import Base

config = context.config
engine = config.attributes["engine"]

# Tables that other libraries own in the same database (APScheduler's job store).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    context.run_migrations()
