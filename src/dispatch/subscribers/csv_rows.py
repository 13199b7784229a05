"""Reading a subscriber CSV as a stream of records, each with its physical line number.

The file is read as bytes, one physical line at a time, so that a line that is not
in the file's encoding (UTF-8 unless `csv_format.sniff` found another) or holds a NUL
byte is caught (and reported by number) without stopping the rest. UTF-16 and UTF-32
files, whose lines cannot be split on a byte, are decoded as a text stream instead.
Line 1 is the header; a byte-order mark (Excel) is dropped; CRLF is fine.
A cell that an export protected from spreadsheets (`'=…`, `csv_safe`) is read unprotected.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dispatch.errors import CsvRowError
from dispatch.subscribers.csv_format import CsvFormat
from dispatch.subscribers.csv_safe import QUOTE, restore
from dispatch.subscribers.import_caps import ATTRIBUTES_MAX, COLUMNS_MAX

UTF8 = CsvFormat("utf-8", ",")

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
    """Column positions of a subscriber CSV header (Dispatch's own columns, or another
    service's mapped by `import_services`)."""

    names: list[str]
    email: int
    name: int | None
    status: int | None
    attributes: list[tuple[int, str]]
    tags: int | None = None
    dropped: list[str] = field(default_factory=list)  # attribute columns over the cap
    unknown: list[str] = field(default_factory=list)  # columns the service does not document
    mapping: Any = None  # an `import_services.Mapping` for another service's export


class _Lines:
    """Decodes physical lines, remembering which ones were not in the encoding or held a NUL."""

    def __init__(self, stream: Iterable[bytes], encoding: str = "utf-8") -> None:
        self._stream = stream
        self._encoding = encoding
        self._label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._stream, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode(self._encoding)
            except UnicodeDecodeError as exc:
                text = raw.decode(self._encoding, "surrogateescape")
                self.bad[number] = f"not valid {self._label} (byte {raw[exc.start]:#04x})"
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


class _WideLines(_Lines):
    """UTF-16/32: decoded as a stream (undecodable bytes become U+FFFD, reported)."""

    def __iter__(self) -> Iterator[str]:
        text = io.TextIOWrapper(_binary(self._stream), self._encoding, "replace", newline="")
        try:
            for number, line in enumerate(text, start=1):
                if number == 1:
                    line = line.lstrip("\ufeff")
                if "\ufffd" in line:
                    self.bad[number] = f"not valid {self._encoding}"
                if "\x00" in line:
                    self.bad[number] = "contains a NUL byte"
                yield line
        finally:
            text.detach()  # the caller's stream stays theirs to close


def _binary(stream: Iterable[bytes]) -> IO[bytes]:
    if isinstance(stream, io.IOBase):
        return stream  # type: ignore[return-value]
    return io.BytesIO(b"".join(stream))


def read_records(stream: Iterable[bytes], form: CsvFormat = UTF8) -> Iterator[Record]:
    """Every record of a CSV byte stream, header included, blank lines left out."""
    lines = (_WideLines if form.wide else _Lines)(stream, form.encoding)
    reader = csv.reader(lines, delimiter=form.delimiter)
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
            cells = [field if field[:1] != QUOTE else restore(field) for field in fields]
            yield Record(first, cells, problem)


def parse_header(record: Record | None, path: Path) -> Header:
    """Column positions, or one CsvRowError naming everything wrong with line 1."""
    if record is None:
        raise CsvRowError(1, "empty file: expected a header line with an email column", path)
    names = checked_names(record, path)
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
        attributes=attributes[:ATTRIBUTES_MAX],
        dropped=[key for _, key in attributes[ATTRIBUTES_MAX:]],
        tags=keys.index(TAGS) if TAGS in keys else None,
    )


def checked_names(record: Record, path: Path) -> list[str]:
    """The header's column names, or a CsvRowError for an unreadable or too wide header."""
    if record.problem:
        raise CsvRowError(record.line, f"header {record.problem}", path)
    if len(record.fields) > COLUMNS_MAX:
        reason = f"header has {len(record.fields):,} columns; at most {COLUMNS_MAX} are read"
        raise CsvRowError(record.line, reason, path)
    return [name.strip() for name in record.fields]
