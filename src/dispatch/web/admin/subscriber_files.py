"""CSV in and out for the admin, through the CLI's own importer and exporter.

An upload is copied to a private temporary folder under its own name and streamed into
the list by `import_subscribers` (same checks, batches and merge rules as `dispatch
subscribers import`); each rejected row is reported as `name:line: reason`. An export
streams (`stream_export`): the CSV is produced piece by piece from the store as the
browser takes it, with formula cells neutralised; no temporary file, and when the
browser goes away the query stops and its session closes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import BinaryIO

import anyio
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from dispatch.errors import CsvRowError
from dispatch.store.database import Database
from dispatch.subscribers import ImportSummary, Reject, import_subscribers
from dispatch.subscribers.csv_export import CsvExport

SHOWN_REJECTS = 1000  # rows listed on the page; the count covers all of them
log = logging.getLogger("dispatch.web.admin")


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


class ClosingStream(StreamingResponse):
    """A streaming response whose generator is closed when the response ends, however it
    ends (done, client gone, server shutting down), not whenever it is collected."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


async def stream_export(database: Database, list_slug: str, status: str) -> AsyncIterator[bytes]:
    """The list's CSV in pieces, each produced in the threadpool as the client reads."""
    pieces = _export_pieces(database, list_slug, status)
    try:
        while (piece := await run_in_threadpool(next, pieces, None)) is not None:
            yield piece
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(pieces.close)


def _export_pieces(database: Database, list_slug: str, status: str) -> Iterator[bytes]:
    with database.session() as session:
        export = CsvExport(session, list_slug, status)
        finished = False
        try:
            for chunk in export.chunks():
                yield chunk.encode()
            finished = True
        finally:
            if not finished:
                log.info(
                    "export of %s (%s) stopped after %d rows: the client went away",
                    list_slug,
                    status,
                    export.count,
                )
