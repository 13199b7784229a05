"""Alembic environment: uses the engine handed over by dispatch.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dispatch.store.models import Base

config = context.config
engine = config.attributes["engine"]

# Tables that other libraries own in the same database (APScheduler's job store).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run(connection: Connection) -> None:
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows without their parents: {broken[:5]}")


with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Batch mode copies a table and drops the old one: with foreign keys on, that
        # drop would cascade into every table referring to it (a campaign's deliveries).
        # The pragma only takes effect outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            run(connection)
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    else:
        run(connection)
