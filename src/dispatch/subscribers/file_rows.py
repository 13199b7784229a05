"""The rows of an import file: its header, then its records checked, chunk by chunk.

Reading, decoding and checking a row (address, names, dates, tags, caps) costs about as
much as writing it to the store. So for a big file (`READ_AHEAD_BYTES` and up) it is
done in a reader process of its own, ahead of the process that writes, and the two run
on two cores at once. The reader sends chunks of rows (`Incoming` tuples and
`Reject`s, `checking.CHUNK` at a time) through a pipe and waits while the writer is
`AHEAD` chunks behind, so memory stays bounded whatever the file's size, and the writer
gets exactly what the in-process path gives: the same rows in file order, each chunk
with how far into the file it ends.

The reader is started with "spawn" (a fresh interpreter), never "fork": an admin upload
runs in a thread of the web process, and forking a threaded process can deadlock. A
daemonic process (a Celery pool worker) may not start one, and reads in-process. If the
reader dies, the import stops with an error that says so (the batches written so far
stay, and a re-run skips them); if the writer stops (a store fault), the reader is
stopped too.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO, Any

from dispatch.errors import CsvRowError, DispatchError
from dispatch.subscribers.checking import checked
from dispatch.subscribers.csv_format import CsvFormat
from dispatch.subscribers.csv_rows import Header, Record, parse_header, read_records
from dispatch.subscribers.import_services import SERVICES, detect, service_header
from dispatch.subscribers.merge import Incoming
from dispatch.subscribers.rejects import Reject

READ_AHEAD_BYTES = 16 * 1024 * 1024  # smaller files: starting a process costs ~0.5 s
AHEAD = 3  # chunks a reader process may hold ready beyond the one in the pipe
POLL_SECONDS = 1.0  # how often a waiting writer checks that the reader is alive
_STATUS_OUTCOME = {"subscribed": "confirmed", "pending": "pending"}

Row = Incoming | Reject
Chunk = tuple[list[Row], int]  # rows, and the byte offset in the file where they end


@dataclass
class FileRows:
    header: Header
    chunks: Iterator[Chunk]


@contextmanager
def file_rows(
    path: Path,
    form: CsvFormat,
    source: str,
    status: str | None,
    read_ahead: bool | None = None,
) -> Iterator[FileRows]:
    """The file's header and checked rows; `read_ahead` (default: for big files) reads
    and checks them in a reader process. A bad header raises CsvRowError (line 1)."""
    if read_ahead is None:
        read_ahead = path.stat().st_size >= READ_AHEAD_BYTES
    if read_ahead and _can_spawn():
        with _read_ahead(path, form, source, status) as rows:
            yield rows
        return
    with path.open("rb") as stream:
        yield _read_here(stream, path, form, source, status)


def _can_spawn() -> bool:
    """Whether a reader process can start: not from a daemonic process, and only when
    "spawn" can find this program's main module again (not `python - < script`)."""
    main = sys.modules.get("__main__")
    where = getattr(main, "__file__", None)
    return not multiprocessing.current_process().daemon and (where is None or Path(where).is_file())


def header_for(record: Record | None, path: Path, source: str, status: str | None) -> Header:
    """The header read for `source`; "auto" takes the service the columns name, if any."""
    service = SERVICES.get(source)
    if source == "auto" and record is not None and not record.problem:
        service = detect(record.fields)
    if service is None:
        if status is not None:
            raise CsvRowError(1, "--status applies to another service's export only", path)
        return parse_header(record, path)
    return service_header(record, path, service, _STATUS_OUTCOME.get(status or "", status))


def _read_here(
    stream: IO[bytes], path: Path, form: CsvFormat, source: str, status: str | None
) -> FileRows:
    records = read_records(stream, form)
    header = header_for(next(records, None), path, source, status)

    def chunks() -> Iterator[Chunk]:
        for chunk in checked(records, header):
            yield chunk, stream.tell()

    return FileRows(header, chunks())


def _reader(path: str, form: CsvFormat, source: str, status: str | None, out: Connection) -> None:
    """The reader process: the header, every chunk, then "end" (or what went wrong).

    A thread of its own sends, so reading goes on while a chunk waits in the pipe (up
    to `AHEAD` chunks); once the writer has gone, reading stops."""
    outgoing: queue.Queue[tuple[Any, ...] | None] = queue.Queue(AHEAD)
    gone = threading.Event()
    sender = threading.Thread(target=_send_all, args=(outgoing, out, gone), daemon=True)
    sender.start()
    try:
        with open(path, "rb") as stream:
            rows = _read_here(stream, Path(path), form, source, status)
            outgoing.put(("header", rows.header))
            for chunk, offset in rows.chunks:
                if gone.is_set():
                    return
                outgoing.put(("rows", chunk, offset))
        outgoing.put(("end",))
    except CsvRowError as exc:
        outgoing.put(("csv-error", exc.line, exc.reason))
    except BaseException as exc:  # the writer must learn why, whatever it was
        outgoing.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        outgoing.put(None)
        sender.join()
        out.close()


def _send_all(
    outgoing: queue.Queue[tuple[Any, ...] | None], out: Connection, gone: threading.Event
) -> None:
    while (message := outgoing.get()) is not None:
        if gone.is_set():
            continue  # the writer stopped (and says why): drain, so reading never waits
        try:
            out.send(message)  # waits while the writer is behind
        except OSError:  # a broken pipe: the writer closed its end
            gone.set()


@contextmanager
def _read_ahead(path: Path, form: CsvFormat, source: str, status: str | None) -> Iterator[FileRows]:
    """A one-way pipe from the reader. This process closes its copy of the sending end,
    so a reader that dies halfway through a message is an end of file here, never a
    read that waits for ever."""
    context = multiprocessing.get_context("spawn")
    inbox, outbox = context.Pipe(duplex=False)
    process = context.Process(
        target=_reader,
        args=(str(path), form, source, status, outbox),
        name="dispatch-import-reader",
        daemon=True,
    )
    try:
        process.start()
    finally:
        outbox.close()
    try:
        message = _receive(inbox, process, path)
        if message[0] != "header":
            _raise(message, path)
        yield FileRows(message[1], _received(inbox, process, path))
    finally:
        inbox.close()  # a reader still sending gets a broken pipe and ends
        process.join(POLL_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join()


def _received(inbox: Connection, process: BaseProcess, path: Path) -> Iterator[Chunk]:
    while True:
        message = _receive(inbox, process, path)
        if message[0] == "end":
            return
        if message[0] != "rows":
            _raise(message, path)
        yield message[1], message[2]


def _receive(inbox: Connection, process: BaseProcess, path: Path) -> tuple[Any, ...]:
    while not inbox.poll(POLL_SECONDS):
        if not process.is_alive() and not inbox.poll(0):
            break
    else:
        try:
            return inbox.recv()
        except (EOFError, OSError):
            process.join(POLL_SECONDS)
    raise DispatchError(
        f"{path}: the import's reader process stopped (exit code {process.exitcode});"
        " the batches written so far are kept: run the import again to finish it"
    )


def _raise(message: tuple[Any, ...], path: Path) -> None:
    if message[0] == "csv-error":
        raise CsvRowError(message[1], message[2], path)
    raise DispatchError(f"{path}: reading the file failed: {message[1]}")
