"""Copy a whole store into an empty database (SQLite → PostgreSQL) and prove every row arrived.

`copy_store` migrates the target to head, refuses it when any Dispatch table already has
rows, copies every table in foreign-key order in streamed batches (primary keys kept), resets
PostgreSQL's id sequences, and compares row counts and a sha256 per table on both sides.
The target is filled in one transaction: a failed copy leaves it migrated but empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, Row, String, Table, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dispatch.errors import StoreError
from dispatch.store import migrate
from dispatch.store.models import Base

BATCH_SIZE = 2000
# Tables in the store that are not copied, and why.
SKIPPED = {
    "alembic_version": "the target's migrations write its own revision",
    "apscheduler_jobs": "APScheduler's job store: the scheduler recreates its jobs at start-up",
}


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table compared on both sides after the copy."""

    name: str
    source_rows: int
    target_rows: int
    source_sha256: str
    target_sha256: str

    @property
    def ok(self) -> bool:
        same_rows = self.source_rows == self.target_rows
        return same_rows and self.source_sha256 == self.target_sha256


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)  # table → rows written
    skipped: dict[str, str] = field(default_factory=dict)  # table present in the source → why
    unknown: list[str] = field(default_factory=list)  # source tables outside Dispatch's schema
    checks: list[TableCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def tables() -> list[Table]:
    """Dispatch's tables, parents before children."""
    return list(Base.metadata.sorted_tables)


def driver_url(url: str) -> str:
    """`postgresql://…` → `postgresql+psycopg://…` (psycopg 3 is the driver Dispatch ships)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def copy_store(
    source: Engine,
    target: Engine,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy `source` into the empty `target`, then verify it; see the module docstring."""
    if source.url == target.url:
        raise StoreError(f"source and target are the same database ({safe(source)})")
    _check_source(source)
    present = set(inspect(source).get_table_names())
    report = CopyReport(
        skipped={name: why for name, why in SKIPPED.items() if name in present},
        unknown=sorted(present - set(SKIPPED) - {table.name for table in tables()}),
    )
    _check_empty(target)
    migrate.upgrade(target)
    _check_empty(target)
    with source.connect() as reading, target.begin() as writing:
        for table in tables():
            report.copied[table.name] = _copy_table(reading, writing, table, batch_size)
            if progress is not None:
                progress(table.name, report.copied[table.name])
        if writing.dialect.name == "postgresql":
            reset_sequences(writing)
    report.checks = verify(source, target, batch_size)
    return report


def verify(source: Engine, target: Engine, batch_size: int = BATCH_SIZE) -> list[TableCheck]:
    """Row counts and checksums of every Dispatch table on both sides."""
    with source.connect() as left, target.connect() as right:
        checks = []
        for table in tables():
            source_rows, source_sha = table_digest(left, table, batch_size)
            target_rows, target_sha = table_digest(right, table, batch_size)
            checks.append(TableCheck(table.name, source_rows, target_rows, source_sha, target_sha))
        return checks


def table_digest(connection: Connection, table: Table, batch_size: int) -> tuple[int, str]:
    """(rows, sha256 over every row's normalised values in primary-key order)."""
    digest = hashlib.sha256()
    rows = 0
    for batch in _batches(connection, table, batch_size):
        for row in batch:
            digest.update(row_bytes(row))
            rows += 1
    counted = connection.scalar(select(func.count()).select_from(table))
    if counted != rows:
        raise StoreError(f"{table.name}: counted {counted} rows but read {rows}; is it in use?")
    return rows, digest.hexdigest()


def row_bytes(row: Row[Any]) -> bytes:
    values = [_normal(value) for value in row]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode() + b"\n"


def reset_sequences(connection: Connection) -> None:
    """Point every id sequence past the copied rows, so new rows get fresh ids."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        next_id = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
        sequence = func.pg_get_serial_sequence(table.name, column.name)
        connection.execute(select(func.setval(sequence, next_id, False)))


def _check_source(source: Engine) -> None:
    current, head = migrate.current(source), migrate.head()
    if current != head:
        raise StoreError(
            f"{safe(source)} is at revision {current or 'none'}, not {head}: "
            "run `dispatch db upgrade` on it first"
        )


def _check_empty(target: Engine) -> None:
    present = set(inspect(target).get_table_names())
    with target.connect() as connection:
        for table in tables():
            if table.name not in present:
                continue
            rows = connection.scalar(select(func.count()).select_from(table)) or 0
            if rows:
                raise StoreError(
                    f"{safe(target)} is not empty (table {table.name} has {rows} rows): "
                    "db copy only fills an empty database"
                )


def _copy_table(reading: Connection, writing: Connection, table: Table, batch_size: int) -> int:
    copied = 0
    for batch in _batches(reading, table, batch_size):
        try:
            writing.execute(table.insert(), [row._asdict() for row in batch])
        except DBAPIError as exc:
            row = batch[0]._mapping
            first = {column.name: row[column.name] for column in table.primary_key.columns}
            raise StoreError(
                f"{table.name}: the batch from {first} could not be written "
                f"(nothing was copied): {exc.orig}"
            ) from exc
        copied += len(batch)
    return copied


def _batches(connection: Connection, table: Table, batch_size: int) -> Iterator[Sequence[Row[Any]]]:
    """The table's rows in primary-key order (byte order for text keys on every backend)."""
    order = [
        column.collate("C")
        if isinstance(column.type, String) and connection.dialect.name == "postgresql"
        else column
        for column in table.primary_key.columns
    ]
    streaming = connection.execution_options(yield_per=batch_size)
    result = streaming.execute(select(table).order_by(*order))
    yield from result.partitions()


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise StoreError(f"naive datetime {value!r} read from the store")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, list, dict)):
        return value
    raise StoreError(f"cannot checksum a {type(value).__name__} value: {value!r}")
