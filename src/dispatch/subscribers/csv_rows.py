"""Reading a subscriber CSV as a stream of records, each with its physical line number.

The file is read as bytes, one physical line at a time, so that a line that is not
UTF-8 or holds a NUL byte is caught (and reported by number) without stopping the rest.
Line 1 is the header; a UTF-8 byte-order mark (Excel) is dropped; CRLF is fine. A
cell that an export protected from spreadsheets (`'=…`, `csv_safe`) is read unprotected.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dispatch.errors import CsvRowError
from dispatch.subscribers.csv_safe import restore

EMAIL = "email"
NAME = "name"
STATUS = "status"
TAGS = "tags"  # `;`- or `,`-separated tags (`subscribers.tags.split_tags`)
# Columns an export writes that an import reads but does not store as attributes.
RESERVED = frozenset({STATUS, "subscribed_at", TAGS})


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: its first physical line, its fields, and a problem if it has one."""

    line: int
    fields: list[str]
    problem: str | None = None


@dataclass(frozen=True)
class Header:
    """Column positions of a subscriber CSV header."""

    names: list[str]
    email: int
    name: int | None
    status: int | None
    attributes: list[tuple[int, str]]
    tags: int | None = None


class _Lines:
    """Decodes physical lines, remembering which ones were not UTF-8 or held a NUL."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._stream, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = raw.decode("utf-8", "surrogateescape")
                self.bad[number] = f"not valid UTF-8 (byte {raw[exc.start]:#04x})"
            if "\x00" in text:
                self.bad[number] = "contains a NUL byte"
            yield text

    def problem(self, first: int, last: int) -> str | None:
        """The problem of any line in first..last, forgetting lines up to `last`."""
        if not self.bad:
            return None
        found = None
        for number in [n for n in self.bad if n <= last]:
            reason = self.bad.pop(number)
            if number >= first and found is None:
                found = f"line {number} {reason}" if number != first else reason
        return found


def read_records(stream: Iterable[bytes]) -> Iterator[Record]:
    """Every record of a CSV byte stream, header included, blank lines left out."""
    lines = _Lines(stream)
    reader = csv.reader(lines)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first, last = last + 1, reader.line_num
            yield Record(first, [], lines.problem(first, last) or f"unreadable CSV: {exc}")
            continue
        first, last = last + 1, reader.line_num
        problem = lines.problem(first, last)
        if fields or problem:  # cells as they were before an export neutralised them
            yield Record(first, [restore(field) for field in fields], problem)


def parse_header(record: Record | None, path: Path) -> Header:
    """Column positions, or one CsvRowError naming everything wrong with line 1."""
    if record is None:
        raise CsvRowError(1, "empty file: expected a header line with an email column", path)
    if record.problem:
        raise CsvRowError(record.line, f"header {record.problem}", path)
    names = [field.strip() for field in record.fields]
    keys = [name.lower() if name.lower() in (EMAIL, NAME, *RESERVED) else name for name in names]
    problems = []
    if EMAIL not in keys:
        problems.append(f'no "{EMAIL}" column (found: {", ".join(names) or "nothing"})')
    if any(not name for name in names):
        problems.append("a column has an empty name")
    duplicates = sorted({key for key in keys if key and keys.count(key) > 1})
    if duplicates:
        problems.append(f"duplicate columns: {', '.join(duplicates)}")
    if problems:
        raise CsvRowError(record.line, "bad header: " + "; ".join(problems), path)
    attributes = [(i, key) for i, key in enumerate(keys) if key not in (EMAIL, NAME, *RESERVED)]
    return Header(
        names=names,
        email=keys.index(EMAIL),
        name=keys.index(NAME) if NAME in keys else None,
        status=keys.index(STATUS) if STATUS in keys else None,
        attributes=attributes,
        tags=keys.index(TAGS) if TAGS in keys else None,
    )
