"""Raw bytes of an article file → text: size, emptiness, binary, then the encoding.

UTF-8 (with or without a BOM) is read as is; a UTF-16 file with its BOM (Word's
"Unicode text") is decoded as UTF-16. Anything else is handed to charset-normalizer,
whose guess (a Windows-1252 export, a Latin-1 page) is used and reported as a warning,
because a guess can be wrong and the editor should look at the typography. Bytes that
no encoding explains are refused with the line and column of the first bad byte.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from dispatch.errors import IngestError
from dispatch.ingest.document import IngestWarning

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class Decoded:
    text: str  # line endings normalised to LF
    warnings: tuple[IngestWarning, ...] = ()


def decode(path: Path, data: bytes, max_bytes: int) -> Decoded:
    """Check raw bytes the way `files.read_text` does (also for uploads that are not files)."""
    if len(data) > max_bytes:
        raise IngestError(path, f"file is over the {max_bytes:,}-byte limit")
    if data.startswith(UTF16_BOMS):
        return Decoded(_lf(_utf16(path, data)))
    data = data.removeprefix(codecs.BOM_UTF8)
    if not data.strip():
        raise IngestError(path, "file is empty")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise IngestError(path, "binary file (contains NUL bytes)", _line_at(data, nul))
    try:
        return Decoded(_lf(data.decode("utf-8")))
    except UnicodeDecodeError as exc:
        return _guess(path, data, exc)


def _guess(path: Path, data: bytes, error: UnicodeDecodeError) -> Decoded:
    best = from_bytes(data).best()
    line = _line_at(data, error.start)
    if best is None or best.encoding in ("utf_8", "ascii"):
        bad = data[error.start : error.start + 1].hex()
        reason = f"not UTF-8: byte 0x{bad} at column {_column_at(data, error.start)}"
        raise IngestError(path, reason, line) from None
    name = best.encoding.replace("_", "-")
    note = (
        f"not UTF-8 (first odd byte 0x{data[error.start]:02x} on this line): read as {name}, "
        "charset-normalizer's guess; check quotes and accents, or save the file as UTF-8"
    )
    return Decoded(_lf(str(best)), (IngestWarning(path, line, note),))


def _utf16(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise IngestError(path, f"not valid UTF-16 (a BOM says it is): {exc.reason}") from None
    if not text.strip():
        raise IngestError(path, "file is empty")
    return text


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_at(data: bytes, index: int) -> int:
    return data.count(b"\n", 0, index) + 1


def _column_at(data: bytes, index: int) -> int:
    return index - (data.rfind(b"\n", 0, index) + 1) + 1
