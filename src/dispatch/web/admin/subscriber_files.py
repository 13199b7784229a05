"""CSV out for the admin, through the CLI's own exporter, and the name an upload is kept
under (uploads are imported in the background: `web.admin.imports`).

An export streams (`stream_export`): the CSV is produced piece by piece from the store
as the browser takes it, with formula cells neutralised; no temporary file, and when the
browser goes away the query stops and its session closes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePath

import anyio
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from dispatch.store.database import Database
from dispatch.subscribers.csv_export import CsvExport

log = logging.getLogger("dispatch.web.admin")


def upload_name(filename: str | None) -> str:
    return PurePath((filename or "upload.csv").replace("\\", "/")).name or "upload.csv"


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
