"""Feeds: which feeds exist, when each file was last written, open each; rebuild now.

"Which exist" is what a build from the store would write now (`build_feeds`, in
memory); "built" is the file's modification time under `feeds.public_dir` (the writer
only touches a file whose bytes changed), and "up to date" says whether the file on
disk already holds those bytes. "Rebuild now" runs the scheduler's own job
(`jobs.refresh_feeds`: build, write changed files, ping hubs) under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.config import Settings
from dispatch.jobs import JobContext, Run, refresh_feeds
from dispatch.render.feed_ids import FEED_FILENAMES
from dispatch.render.feeds import build_feeds
from dispatch.web.admin.common import in_store, notice_of, see_other
from dispatch.web.admin_render import render_admin
from dispatch.web.sending import sending_of

router = APIRouter(prefix="/admin/feeds", include_in_schema=False)


@dataclass(frozen=True)
class FeedRow:
    feed: str
    format: str
    path: str
    url: str
    entries: int
    built_at: datetime | None  # None: not written yet
    current: bool  # the file holds what a build would write now


def feed_rows(session: Session, settings: Settings) -> list[FeedRow]:
    folder = settings.feeds.public_dir
    rows = []
    for file in build_feeds(session, settings):
        target = folder / file.path
        built = _mtime(target)
        current = built is not None and target.read_bytes() == file.content
        rows.append(
            FeedRow(file.feed, file.format.value, file.path, file.url, file.entries, built, current)
        )
    return rows


def last_build(settings: Settings) -> datetime | None:
    """When a feed file was last written (the newest one), or None if none exist."""
    folder = settings.feeds.public_dir
    if not folder.is_dir():
        return None
    times = [_mtime(path) for path in folder.rglob("*") if path.name in FEED_FILENAMES]
    return max((t for t in times if t is not None), default=None)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


@router.get("")
async def feeds_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    settings = request.app.state.settings
    rows = await in_store(request, feed_rows, settings)
    return render_admin(
        request,
        "feeds",
        editor=editor,
        feeds=rows,
        folder=settings.feeds.public_dir,
        notice=notice_of(request),
    )


@router.post("/rebuild")
async def rebuild(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    context = _job_context(request)
    await run_in_threadpool(refresh_feeds, "admin", run=Run(context, context.clock()))
    return see_other("/admin/feeds", "rebuilt")


def _job_context(request: Request) -> JobContext:
    """The app's job context: the in-process scheduler's (its feeds lock) when shared."""
    return sending_of(request).jobs
