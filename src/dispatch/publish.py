"""Publishing feeds: every feed file goes to disk here (through `atomic.write_file`:
only when its bytes changed, atomically, fsynced).

`publish_feeds()` writes a build from `render.feeds.build_feeds()`, removes the files
of feeds that no longer exist (a section whose articles were all unpublished, a list
removed from config.toml) and pings the WebSub hubs about every feed file that changed,
retrying the pings that failed at earlier builds (kept in `websub.PENDING_FILE`, a
JSON file under `feeds.public_dir` written like a feed; see `dispatch.websub`).
Removal only ever touches `lists/*/` and `sections/*/` feed files (rss.xml, atom.xml,
feed.json) under `feeds.public_dir`, and the folders it leaves empty there.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import httpx

from dispatch.atomic import sync_folder, write_file
from dispatch.config import Settings
from dispatch.errors import PublishError
from dispatch.logs import event
from dispatch.render.feed_ids import FEED_FILENAMES, GROUP_FOLDERS
from dispatch.render.feeds import FeedFile
from dispatch.store.types import utcnow
from dispatch.websub import (
    PENDING_FILE,
    PendingPing,
    PingResult,
    pending_from_json,
    pending_to_json,
    ping_pairs,
    still_failing,
    still_wanted,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedFile:
    file: FeedFile
    changed: bool


@dataclass
class PublishReport:
    files: list[PublishedFile] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # paths relative to public_dir
    pings: list[PingResult] = field(default_factory=list)  # this build's, retries included
    pending: list[PendingPing] = field(default_factory=list)  # failed: retried next build

    @property
    def changed(self) -> list[FeedFile]:
        return [item.file for item in self.files if item.changed]


def publish_feeds(
    settings: Settings,
    files: list[FeedFile],
    *,
    ping: bool = True,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> PublishReport:
    """Write changed feed files, delete orphaned ones, ping hubs about the changes.

    With `ping`, pings that failed at earlier builds are retried too; `now` (default:
    the clock) decides when a ping has been failing too long to keep trying.
    """
    root = settings.feeds.public_dir
    report = PublishReport()
    for file in files:
        report.files.append(PublishedFile(file, write_file(_inside(root, file.path), file.content)))
    report.deleted = remove_orphans(root, {file.path for file in files})
    if ping:
        report.pings, report.pending = _ping(settings, files, report.changed, client, now)
    event(
        log,
        "feeds.published",
        files=len(report.files),
        changed=len(report.changed),
        deleted=len(report.deleted),
        pings_failed=len(report.pending),
    )
    return report


def _ping(
    settings: Settings,
    files: list[FeedFile],
    changed: list[FeedFile],
    client: httpx.Client | None,
    now: datetime | None,
) -> tuple[list[PingResult], list[PendingPing]]:
    """Ping every hub about the changed feeds, retry earlier failures, keep new ones."""
    root, hubs = settings.feeds.public_dir, settings.feeds.hubs
    earlier = still_wanted(load_pending(root), hubs, {file.url for file in files})
    pairs = dict.fromkeys((item.hub, item.url) for item in earlier)
    pairs.update(dict.fromkeys((hub, file.url) for hub in hubs for file in changed))
    results = ping_pairs(pairs, client=client)
    pending = still_failing(earlier, results, now or utcnow())
    save_pending(root, pending)
    return results, pending


def load_pending(root: Path) -> list[PendingPing]:
    """The pings that failed at earlier builds ([] when none are stored)."""
    path = root / PENDING_FILE
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PublishError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return pending_from_json(content, str(path))


def save_pending(root: Path, pending: list[PendingPing]) -> None:
    """Store the pings to retry (atomically), or remove the file when there are none."""
    path = root / PENDING_FILE
    if pending:
        write_file(path, pending_to_json(pending))
    elif path.exists():
        _remove(path)


def remove_orphans(root: Path, keep: set[str]) -> list[str]:
    """Delete list/section feed files not in `keep`; return their relative paths."""
    removed = []
    for group in GROUP_FOLDERS:
        for path in sorted((root / group).glob("*/*")):
            relative = path.relative_to(root).as_posix()
            if path.name in FEED_FILENAMES and path.is_file() and relative not in keep:
                _remove(path)
                removed.append(relative)
        for folder in sorted(p for p in (root / group).glob("*") if p.is_dir()):
            with suppress(OSError):
                folder.rmdir()  # only succeeds when empty
    return removed


def _remove(path: Path) -> None:
    try:
        path.unlink()
        sync_folder(path.parent)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PublishError(f"{path}: cannot remove: {exc.strerror or exc}") from exc


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing absolute paths and `..` (files stay under public_dir)."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts:
        raise PublishError(f"{relative!r}: not a relative path under {root}")
    return root.joinpath(*parts.parts)
