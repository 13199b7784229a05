"""Rejected rows: what was wrong, where, and the original row, kept in a CSV of their own."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any


@dataclass(frozen=True)
class Reject:
    """A row that was not imported: its physical line (the header is line 1) and why."""

    line: int
    reason: str
    fields: list[str]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class RejectsFile:
    """`line, reason, <original columns>`; created at the first reject, never when clean.

    Fields that held bytes which are not UTF-8 are written back byte for byte.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = []
        self.used = False
        self._file: IO[str] | None = None
        self._writer: Any = None

    def write(self, reject: Reject) -> None:
        if self._writer is None:
            self._open()
        self._writer.writerow([reject.line, reject.reason, *reject.fields])

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["line", "reason", *self.columns])
        self.used = True

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
