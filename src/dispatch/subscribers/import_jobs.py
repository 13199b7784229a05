"""CSV imports in the background, for the admin: a job row, a thread, progress per batch.

`start_import` records an `ImportJob` and runs `import_subscribers` in a thread of this
process (a big file's rows are read in a spawned reader process, never a fork of the
threaded web server), so the upload request answers at once and a page follows the job.
After each committed batch the row gets the bytes read and the counts so far; at the
end, the summary and the first `SHOWN_PROBLEMS` rejected lines (`name:line: reason`), or
the error that stopped it. `cancel_import` asks a queued or running job to stop: it
stops after the batch it is writing (status "cancelled"), and what it wrote stays.
A job whose process died (a restart) stops getting updates: `view` reports it as
stopped after `STALE`; the batches committed before stay, and importing the same file
again finishes it (an import run twice changes nothing the first run did).
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from dispatch.errors import CsvRowError
from dispatch.store.database import Database
from dispatch.store.models import ImportJob
from dispatch.store.types import utcnow
from dispatch.subscribers.csv_import import ImportSummary, import_subscribers
from dispatch.subscribers.rejects import Reject

log = logging.getLogger(__name__)

SHOWN_PROBLEMS = 1000
ACTIVE = ("queued", "running", "cancelling")
STALE = timedelta(minutes=10)
JOBS = ImportJob.__table__


@dataclass(frozen=True)
class Upload:
    path: Path  # the uploaded file, in a private folder removed when the job ends
    name: str  # as the browser named it (for messages)
    list_slug: str
    confirmed: bool
    source: str = "auto"


def start_import(database: Database, upload: Upload, editor_id: int | None) -> int:
    """Record the job and start it; returns its id."""
    with database.session() as session:
        job = ImportJob(
            list_slug=upload.list_slug,
            filename=upload.name[:255],
            source=upload.source,
            confirmed=upload.confirmed,
            status="queued",
            bytes_total=upload.path.stat().st_size,
            created_by=editor_id,
        )
        session.add(job)
        session.flush()
        job_id = job.id
    thread = threading.Thread(
        target=run_import, args=(database, job_id, upload), name=f"import-{job_id}", daemon=True
    )
    thread.start()
    return job_id


class ImportCancelled(Exception):
    """An editor cancelled the job: it stops after the batch it has written."""


def cancel_import(database: Database, job_id: int) -> bool:
    """Ask a queued or running job to stop; False when it had already ended."""
    with database.session() as session:
        asked = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status.in_(("queued", "running")))
            .values(status="cancelling", updated_at=utcnow())
        )
        return bool(asked.rowcount)  # type: ignore[attr-defined]


def _status(database: Database, job_id: int) -> str | None:
    with database.session() as session:
        return session.scalar(select(ImportJob.status).where(ImportJob.id == job_id))


def run_import(database: Database, job_id: int, upload: Upload) -> None:
    """The job's whole life; never raises (the row says what happened)."""
    summary = ImportSummary()
    problems: list[str] = []

    def rejected(reject: Reject) -> None:
        if len(problems) < SHOWN_PROBLEMS:
            problems.append(f"{upload.name}:{reject.line}: {reject.reason}")

    def progress(done: int, total: int) -> None:
        _set(database, job_id, bytes_done=done, rows=summary.rows, summary=_counts(summary))
        if _status(database, job_id) == "cancelling":
            raise ImportCancelled

    _set(database, job_id, status="running", only_from="queued")
    try:
        if _status(database, job_id) == "cancelling":
            raise ImportCancelled
        import_subscribers(
            database,
            upload.path,
            upload.list_slug,
            confirmed=upload.confirmed,
            rejects_path=upload.path.with_name("rejects.csv"),
            on_reject=rejected,
            source=upload.source,
            on_progress=progress,
            summary=summary,
        )
    except ImportCancelled:
        _finish(database, job_id, summary, problems, None, status="cancelled")
    except CsvRowError as exc:
        _finish(database, job_id, summary, problems, f"{upload.name}:{exc.line}: {exc.reason}")
    except Exception as exc:  # the page must say it stopped, whatever stopped it
        log.exception("import job %s stopped", job_id)
        _finish(database, job_id, summary, problems, f"the import stopped: {exc}")
    else:
        _finish(database, job_id, summary, problems, None)
    finally:
        shutil.rmtree(upload.path.parent, ignore_errors=True)


def _finish(
    database: Database,
    job_id: int,
    summary: ImportSummary,
    problems: list[str],
    error: str | None,
    status: str | None = None,
) -> None:
    _set(
        database,
        job_id,
        status=status or ("failed" if error else "done"),
        rows=summary.rows,
        summary=_counts(summary),
        problems=problems,
        error=error,
        finished_at=utcnow(),
    )


def _counts(summary: ImportSummary) -> dict[str, Any]:
    counts = asdict(summary)
    counts.pop("rejects_path", None)
    return counts


def _set(database: Database, job_id: int, only_from: str | None = None, **values: Any) -> None:
    where = [ImportJob.id == job_id]
    if only_from is not None:
        where.append(ImportJob.status == only_from)
    with database.session() as session:
        session.execute(update(ImportJob).where(*where).values(updated_at=utcnow(), **values))


@dataclass(frozen=True)
class JobView:
    """What the progress page shows."""

    job: ImportJob
    now: datetime

    @property
    def stopped(self) -> bool:
        """Running or queued, but not heard of for `STALE`: its process has gone."""
        return self.job.status in ACTIVE and self.now - self.job.updated_at > STALE

    @property
    def active(self) -> bool:
        return self.job.status in ACTIVE and not self.stopped

    @property
    def percent(self) -> int:
        if self.job.status == "done":
            return 100
        total = max(self.job.bytes_total, 1)
        return min(99, self.job.bytes_done * 100 // total)

    @property
    def counts(self) -> dict[str, Any]:
        """Every count of an `ImportSummary`, zero until the job has reported it."""
        return {**_counts(ImportSummary()), **(self.job.summary or {})}
