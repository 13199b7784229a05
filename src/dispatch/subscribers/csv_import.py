"""`dispatch subscribers import`: stream a CSV into a list, in batches, one transaction each.

The file may be Dispatch's own format (email, name, status, attributes) or another
service's export (`import_services`: Mailchimp, Substack, Ghost, listmonk, Buttondown),
named or detected from the header; its encoding and delimiter are sniffed
(`csv_format`). Rows are streamed and written in batches, so memory stays flat
whatever the file's size; `on_progress(bytes read, file size)` follows each batch.
Bad rows never stop an import: each is reported (callback) and written to a rejects CSV
(`line, reason, <original fields>`). A crash leaves only whole batches committed, and a
re-run changes nothing that the first run already did, so it is safe to run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dispatch.errors import CsvRowError
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.subscribers.checking import checked, default_workers
from dispatch.subscribers.csv_format import sniff
from dispatch.subscribers.csv_rows import Header, Record, parse_header, read_records
from dispatch.subscribers.import_services import CHOICES, SERVICES, detect, service_header
from dispatch.subscribers.merge import Incoming, Tally, merge_batch
from dispatch.subscribers.rejects import Reject, RejectsFile

FILE_STATUSES = ("subscribed", "pending", "unsubscribed", "cleaned")
_STATUS_OUTCOME = {"subscribed": "confirmed", "pending": "pending"}

BATCH_SIZE = 2000  # measured: fastest and leanest on SQLite (1,000: slower; 5,000: +50 MB)


@dataclass
class ImportSummary(Tally):
    rows: int = 0  # data rows read (the header and blank lines are not rows)
    rejected: int = 0
    rejects_path: Path | None = None  # set when at least one row was rejected
    source: str = "dispatch"  # the service whose export this was
    file_format: str = ""  # encoding and delimiter found, e.g. "utf-8, semicolon"
    unknown_columns: list[str] = field(default_factory=list)  # kept as attributes
    dropped_columns: list[str] = field(default_factory=list)  # over the attribute cap


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def import_subscribers(
    database: Database,
    path: Path,
    list_slug: str,
    *,
    confirmed: bool = False,
    rejects_path: Path | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    source: str = "auto",
    status: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Import `path` into the list `list_slug`; the rejects file is written only if needed.

    `source` is "auto" (detect from the header), "dispatch" or a service's name;
    `status` (one of FILE_STATUSES) gives every row of another service's export that
    status (Mailchimp's separate unsubscribed and cleaned files). `workers` processes
    check addresses (default: none for small files, else one per spare core). A given
    `summary` is filled as the import goes (a progress page reads it between batches).
    """
    if source not in CHOICES:
        raise ValueError(f"unknown source {source!r}: choose one of {', '.join(CHOICES)}")
    if status is not None and status not in FILE_STATUSES:
        raise ValueError(f"unknown status {status!r}: choose one of {', '.join(FILE_STATUSES)}")
    size = path.stat().st_size
    if workers is None:
        workers = default_workers(size)
    with database.session() as session:
        list_id = get_list(session, list_slug).id
    form = sniff(path)
    summary = summary if summary is not None else ImportSummary()
    summary.file_format = form.describe()
    now = utcnow()  # stamps everything this import creates
    rejects = RejectsFile(rejects_path or default_rejects_path(path))
    with path.open("rb") as stream, rejects:
        records = read_records(stream, form)
        header = _header(next(records, None), path, source, status)
        summary.source = header.mapping.service.name if header.mapping else "dispatch"
        summary.unknown_columns, summary.dropped_columns = header.unknown, header.dropped
        rejects.columns = header.names
        batch: list[Incoming] = []

        def commit() -> None:
            _commit(database, list_id, batch, confirmed, now, summary)
            batch.clear()
            if on_progress is not None:
                on_progress(stream.tell(), size)

        for item in checked(records, header, workers):
            summary.rows += 1
            if isinstance(item, Reject):
                summary.rejected += 1
                rejects.write(item)
                if on_reject is not None:
                    on_reject(item)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                commit()
        commit()
    summary.rejects_path = rejects.path if rejects.used else None
    return summary


def _header(record: Record | None, path: Path, source: str, status: str | None) -> Header:
    """The header read for `source`; "auto" takes the service the columns name, if any."""
    service = SERVICES.get(source)
    if source == "auto" and record is not None and not record.problem:
        service = detect(record.fields)
    if service is None:
        if status is not None:
            raise CsvRowError(1, "--status applies to another service's export only", path)
        return parse_header(record, path)
    return service_header(record, path, service, _STATUS_OUTCOME.get(status or "", status))


def _commit(
    database: Database,
    list_id: int,
    batch: list[Incoming],
    confirmed: bool,
    now: datetime,
    summary: ImportSummary,
) -> None:
    """One batch, one transaction; the counts move only once it has committed."""
    if not batch:
        return
    tally = Tally()
    with database.session() as session:
        merge_batch(session.connection(), list_id, batch, confirmed=confirmed, now=now, tally=tally)
    for name, value in vars(tally).items():
        setattr(summary, name, getattr(summary, name) + value)
