"""CSV in and out for the admin, through the CLI's own importer and exporter.

An upload is copied to a private temporary folder under its own name and streamed into
the list by `import_subscribers` (same checks, batches and merge rules as `dispatch
subscribers import`); each rejected row is reported as `name:line: reason`. An export
is written by `export_to_file` (atomic) to a temporary file that the response streams
and then removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import BinaryIO

from sqlalchemy.orm import Session

from dispatch.errors import CsvRowError
from dispatch.store.database import Database
from dispatch.subscribers import ImportSummary, Reject, export_to_file, import_subscribers

SHOWN_REJECTS = 1000  # rows listed on the page; the count covers all of them


@dataclass
class CsvImport:
    name: str
    summary: ImportSummary | None = None
    problems: list[str] = field(default_factory=list)  # "name:line: reason"
    more: int = 0  # rejects beyond those listed

    @property
    def ok(self) -> bool:
        return self.summary is not None and not self.problems


def upload_name(filename: str | None) -> str:
    return PurePath((filename or "upload.csv").replace("\\", "/")).name or "upload.csv"


def import_csv(
    database: Database, stream: BinaryIO, filename: str | None, list_slug: str, confirmed: bool
) -> CsvImport:
    found = CsvImport(upload_name(filename))
    folder = Path(tempfile.mkdtemp(prefix="dispatch-upload-"))
    try:
        path = folder / found.name
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out)

        def report(reject: Reject) -> None:
            if len(found.problems) < SHOWN_REJECTS:
                found.problems.append(f"{found.name}:{reject.line}: {reject.reason}")
            else:
                found.more += 1

        try:
            found.summary = import_subscribers(
                database,
                path,
                list_slug,
                confirmed=confirmed,
                rejects_path=folder / "rejects.csv",
                on_reject=report,
            )
        except CsvRowError as exc:
            found.problems.append(f"{found.name}:{exc.line}: {exc.reason}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def export_csv(session: Session, list_slug: str, status: str) -> Path:
    """A temporary CSV file of the list (the caller removes it)."""
    handle, name = tempfile.mkstemp(prefix="dispatch-export-", suffix=".csv")
    os.close(handle)
    path = Path(name)
    try:
        export_to_file(session, list_slug, path, status)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
