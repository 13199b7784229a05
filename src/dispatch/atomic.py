"""The one way Dispatch writes a public file: atomically, and only when its bytes change.

A file is written only when its bytes differ from what is on disk, through a temporary
file in the same folder, `fsync`, then `os.replace` (readers see the old file or the new
one, never half of one) and an `fsync` of the folder. Unchanged files are not touched,
so their modification times and the web server's caches stay valid. Feeds
(`dispatch.publish`) and media (`dispatch.media.store`) are written here.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

from dispatch.errors import PublishError

FILE_MODE = 0o644  # world-readable: a web server or CDN sync serves these files


def write_file(path: Path, content: bytes) -> bool:
    """Atomically make `path` hold `content`; False (nothing written) when it already does."""
    with suppress(OSError):  # missing or unreadable: (re)write it, which reports errors
        if path.read_bytes() == content:
            return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, content)
        sync_folder(path.parent)
    except OSError as exc:
        raise PublishError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return True


def _replace(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def sync_folder(folder: Path) -> None:
    """fsync a folder so a rename or unlink in it survives a crash (POSIX only)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
