"""DKIM relaxed canonicalisation (RFC 6376 §3.4.2 and §3.4.4) and header selection
(§5.4.2), written for speed: a campaign signs every message, and dkimpy's versions cost
more than the RSA operation itself. Each function gives exactly what dkimpy's
`dkim.canonicalization.Relaxed` gives (a test compares them on generated input).

Messages are the bytes our senders write: CRLF line ends. Header values keep their
folding here; `relaxed_header` unfolds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

Header = tuple[bytes, bytes]  # (name as written, raw value after the colon, with its CRLFs)

# A run of two or more blanks, or a tab: the only whitespace relaxed canonicalisation
# changes inside a line. Matching single spaces too (as dkimpy does) replaces every
# space of a message by itself, which is most of its cost.
_BLANKS = re.compile(rb"[ \t]{2,}|\t")
_SPACES = re.compile(rb"  +")
_FOLD = re.compile(rb"\r?\n")
_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


class MessageFormatError(ValueError):
    """The bytes are not a message whose headers can be signed."""


def split_message(message: bytes) -> tuple[list[Header], bytes]:
    """Headers (in order) and body of a CRLF message."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        if not message.endswith(b"\r\n"):
            raise MessageFormatError("no end of headers (a CRLF line) in the message")
        head, body = message[:-2], b""
    headers: list[Header] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise MessageFormatError("the message starts with a folded line")
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
            continue
        found = _NAME.match(line)
        if found is None:
            raise MessageFormatError(f"not a header line: {line[:60]!r}")
        headers.append((found.group(1), line[found.end() :]))
    return headers, body


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """`name:value` relaxed: name lower-cased, value unfolded, blanks squeezed, CRLF."""
    if b"\n" in value:
        value = _FOLD.sub(b"", value)
    value = _squeezed(value).strip(b" \t")
    return name.lower().rstrip(b" \t") + b":" + value + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """The body relaxed: no blanks at line ends, blanks squeezed, no empty lines at the
    end, and a final CRLF unless the body is empty."""
    body = _squeezed(body)
    if b" \r\n" in body:
        body = body.replace(b" \r\n", b"\r\n")  # blanks are single spaces by now
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    if end == 0:
        return b""
    return body[:end] + b"\r\n"


def _squeezed(data: bytes) -> bytes:
    """Every run of blanks as one space. A pattern that starts with two literal spaces
    is searched at memory speed; tabs, which our own messages never have, take the
    general one."""
    if b"\t" in data:
        return _BLANKS.sub(b" ", data)
    return _SPACES.sub(b" ", data) if b"  " in data else data


def signed_names(headers: Sequence[Header], names: Iterable[bytes]) -> list[bytes]:
    """The `h=` list: each name once per occurrence, plus once more ("over-signing"), so
    that no further instance, nor a first one of an absent header, can be added."""
    counts: dict[bytes, int] = {}
    for name, _ in headers:
        key = name.lower()
        counts[key] = counts.get(key, 0) + 1
    return [name for name in names for _ in range(counts.get(name, 0) + 1)]


def hashed_headers(headers: Sequence[Header], names: Sequence[bytes]) -> bytes:
    """The relaxed headers `h=` names, each instance taken from the bottom up (§5.4.2);
    a name with no instance left contributes nothing."""
    lowered = [name.lower() for name, _ in headers]
    next_below: dict[bytes, int] = {}
    out: list[bytes] = []
    for name in names:
        index = next_below.get(name, len(headers))
        while index > 0:
            index -= 1
            if lowered[index] == name:
                out.append(relaxed_header(*headers[index]))
                break
        next_below[name] = index
    return b"".join(out)
