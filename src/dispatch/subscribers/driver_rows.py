"""Many rows in one statement straight through the database driver (`cursor.executemany`,
or COPY for new rows on PostgreSQL).

SQLAlchemy's executemany builds a parameter dictionary and runs every type processor
for every row: for a 2,000-row batch that cost more than the database's own work
(profiled: 60% of an import on SQLite). Here each column's processor is looked up once,
values that are the same for the batch are converted once, and the driver gets plain
tuples. Only for the bulk writes of imports; everything else goes through the ORM/Core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    Table,
    any_,
    bindparam,
    func,
    select,
)

Processor = Callable[[Any], Any] | None


class DriverStatement:
    """`INSERT INTO t (a, b) VALUES (?, ?)` or `UPDATE t SET a = ?, b = ? WHERE k = ?`."""

    def __init__(
        self, connection: Connection, table: Table, columns: Sequence[str], where: str = ""
    ) -> None:
        dialect = connection.dialect
        mark = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        names = [*columns, *([where] if where else [])]
        self._connection = connection
        self._processors: list[Processor] = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
        self._copy = ""  # PostgreSQL takes new rows by COPY: several times an executemany's pace
        if where:
            sets = ", ".join(f"{name} = {mark}" for name in columns)
            self.sql = f"UPDATE {table.name} SET {sets} WHERE {where} = {mark}"
        else:
            marks = ", ".join(mark for _ in columns)
            self.sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            if dialect.name == "postgresql":
                self._copy = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"

    def convert(self, index: int, value: Any) -> Any:
        """`value` as the driver takes it for column `index` (for values shared by rows)."""
        processor = self._processors[index]
        return processor(value) if processor is not None and value is not None else value

    def run(self, rows: list[tuple[Any, ...]], converted: Sequence[int] = ()) -> None:
        """Run for every row; the columns listed in `converted` are already converted."""
        if not rows:
            return
        todo = [
            (i, p) for i, p in enumerate(self._processors) if p is not None and i not in converted
        ]
        if todo:
            rows = [_processed(row, todo) for row in rows]
        if self._copy:  # in the connection's transaction, like the statement it replaces
            with self._connection.connection.cursor() as cursor, cursor.copy(self._copy) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self._connection.exec_driver_sql(self.sql, rows)  # type: ignore[arg-type]


def _processed(row: tuple[Any, ...], todo: list[tuple[int, Callable[[Any], Any]]]) -> tuple:
    values = list(row)
    for index, processor in todo:
        if values[index] is not None:
            values[index] = processor(values[index])
    return tuple(values)


def one_of(
    connection: Connection, column: ColumnElement[Any], values: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN (values)` bound as ONE parameter (a JSON array read by `json_each` on
    SQLite, an array on PostgreSQL): an expanding IN renders a bind name per value for
    every batch (profiled: a tenth of an import); this compiles once and is cached."""
    if connection.dialect.name == "sqlite":
        array = bindparam("one_of", json.dumps(list(values)), type_=String())
        return column.in_(select(func.json_each(array).table_valued("value").c.value))
    return column == any_(bindparam("one_of", list(values), type_=ARRAY(String())))
