"""Feed files held in memory, ready to answer with: bytes, gzip bytes and validators.

One `os.stat` per request tells whether the file on disk is still the version in
memory, by (mtime_ns, size, inode): `atomic.write_file` replaces a changed feed with a
new file (a new inode), so a rebuild is seen at the next request, and an unchanged
feed, which publish never rewrites, keeps its entry, ETag and Last-Modified.

- `ETag` is strong: the first 32 hex digits of the SHA-256 of the bytes; the gzip copy
  (a different representation, RFC 9110 §8.8.3) carries the same tag with `-gz`.
- `Last-Modified` is the file's modification time, whole seconds: it only moves when
  the bytes change, so it is stable across rebuilds that produce the same bytes.
- Only feed files (`rss.xml`, `atom.xml`, `feed.json`) are served; a path with an
  empty, `.` or `..` segment, a dotfile, a backslash or NUL, or one that resolves
  (through symlinks) outside the folder is refused before the disk is touched.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from dispatch.render.feed_ids import FeedFormat

CHARSET = "; charset=utf-8"
CONTENT_TYPES = {fmt.filename: fmt.media_type + CHARSET for fmt in FeedFormat}
GZIP_LEVEL = 9


@dataclass(frozen=True, slots=True)
class CachedFeed:
    """One version of one feed file, with everything a response needs."""

    version: tuple[int, int, int]  # (mtime_ns, size, inode) of the file it came from
    content: bytes
    gzipped: bytes
    etag: str  # strong, quoted
    etag_gzip: str
    last_modified: str  # IMF-fixdate
    modified_at: int  # whole seconds since the epoch
    content_type: str


def safe_relative(path: str) -> tuple[str, ...] | None:
    """The path's segments when it may name a served feed file, else None."""
    if not path or "\\" in path or "\x00" in path:
        return None
    parts = tuple(path.split("/"))
    if any(not part or part.startswith(".") for part in parts):
        return None  # "", ".", "..", dotfiles and dot-folders
    if parts[-1] not in CONTENT_TYPES:
        return None
    return parts


def load_feed(root: Path, parts: tuple[str, ...]) -> CachedFeed:
    """Read and prepare one feed file; OSError when it is missing or outside `root`.

    The version comes from the open file itself, so it always describes these bytes
    even when publish replaces the file meanwhile.
    """
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise FileNotFoundError(f"{path} resolves outside {root}")
    with open(path, "rb") as stream:
        version = _version(os.fstat(stream.fileno()))
        if version is None:
            raise IsADirectoryError(f"{path} is not a regular file")
        content = stream.read()
    digest = hashlib.sha256(content).hexdigest()[:32]
    modified = version[0] // 1_000_000_000
    return CachedFeed(
        version=version,
        content=content,
        gzipped=gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0),
        etag=f'"{digest}"',
        etag_gzip=f'"{digest}-gz"',
        last_modified=formatdate(modified, usegmt=True),
        modified_at=modified,
        content_type=CONTENT_TYPES[parts[-1]],
    )


def file_version(path: Path) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode) of a regular file, None when there is none."""
    try:
        return _version(os.stat(path))
    except (OSError, ValueError):
        return None


def _version(info: os.stat_result) -> tuple[int, int, int] | None:
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


class FeedCache:
    """Feed files under `root`, kept in memory until the file on disk changes.

    `lookup` costs one `os.stat`; `load` (only when `lookup` says the entry is stale)
    reads, hashes and compresses the file once. Safe to share between threads.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: dict[tuple[str, ...], CachedFeed] = {}
        self._lock = threading.Lock()

    def lookup(
        self, parts: tuple[str, ...]
    ) -> tuple[CachedFeed | None, tuple[int, int, int] | None]:
        """(fresh entry or None, current version or None when the file is gone)."""
        version = file_version(self.root.joinpath(*parts))
        if version is None:
            with self._lock:
                self._entries.pop(parts, None)
            return None, None
        entry = self._entries.get(parts)
        return (entry if entry is not None and entry.version == version else None), version

    def load(self, parts: tuple[str, ...]) -> CachedFeed | None:
        """Read the file into the cache (None when it vanished or escapes the folder)."""
        try:
            entry = load_feed(self.root, parts)
        except OSError:
            return None
        with self._lock:
            self._entries[parts] = entry
        return entry

    def get(self, path: str) -> CachedFeed | None:
        """The current version of the feed at `path` (relative, forward slashes)."""
        parts = safe_relative(path)
        if parts is None:
            return None
        entry, version = self.lookup(parts)
        if entry is None and version is not None:
            entry = self.load(parts)
        return entry
