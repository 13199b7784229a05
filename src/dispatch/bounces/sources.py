"""Messages from files: single messages, mbox files and Maildir folders, with LF, CRLF
or CR line ends, streamed one message at a time.

The standard library's `mailbox` splits mbox files on LF only; reading through a
latin-1 text layer with universal newlines handles all three line ends and keeps every
byte as it was. An mbox is recognised by its first line (`From ` and a space), and
`>From ` quoting (mboxo/mboxrd) is undone.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from dispatch.errors import DispatchError

QUOTED_FROM = re.compile(r"^>(>*From )")


class SourceError(DispatchError):
    """A path that holds no messages we can read."""


def read_messages(path: Path, max_bytes: int = 10_000_000) -> Iterator[tuple[str, bytes]]:
    """(label, message bytes) for each message at `path`; a message over `max_bytes` is
    cut there (its headers and the start of its report are what matter)."""
    if path.is_dir():
        yield from _maildir(path, max_bytes)
        return
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle, io.TextIOWrapper(handle, encoding="latin-1", newline=None) as text:
        first = text.readline()
        if first.startswith("From "):
            yield from _mbox(path, text, max_bytes)
        else:
            yield str(path), _bounded(first, text, max_bytes)


def _bounded(first: str, lines: io.TextIOWrapper, max_bytes: int) -> bytes:
    out, size = [first], len(first)
    for line in lines:
        if size < max_bytes:
            out.append(line)
            size += len(line)
    return "".join(out).encode("latin-1")[:max_bytes]


def _mbox(path: Path, lines: io.TextIOWrapper, max_bytes: int) -> Iterator[tuple[str, bytes]]:
    number, current, size, blank = 1, [], 0, True
    for line in lines:
        if blank and line.startswith("From "):
            yield f"{path}#{number}", _joined(current, max_bytes)
            number, current, size = number + 1, [], 0
            continue
        blank = line == "\n"
        if size < max_bytes:
            current.append(QUOTED_FROM.sub(r"\1", line))
            size += len(line)
    if current or number == 1:
        yield f"{path}#{number}", _joined(current, max_bytes)


def _joined(lines: list[str], max_bytes: int) -> bytes:
    text = "".join(lines)
    if text.endswith("\n\n"):
        text = text[:-1]  # the blank line before the next "From " belongs to the mbox
    return text.encode("latin-1")[:max_bytes]


def _maildir(path: Path, max_bytes: int) -> Iterator[tuple[str, bytes]]:
    folders = [path / "new", path / "cur"]
    if not any(folder.is_dir() for folder in folders):
        raise SourceError(f"{path}: a folder but not a Maildir (no cur/ or new/ inside)")
    for folder in folders:
        if folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_file() and not item.name.startswith("."):
                    yield from read_messages(item, max_bytes)
