"""Splitting a segment expression into tokens, each with its 1-based column.

Strings are double-quoted with two escapes (`\\"` and `\\\\`); whatever else they hold is
text, never syntax: a quote, `;` or `--` inside one is just a character, and outside one
it is refused with its column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch.errors import SegmentError

MAX_LENGTH = 4000  # characters in one expression

# Order matters: a datetime before a date before a number.
PATTERNS = [
    ("SPACE", r"\s+"),
    ("INSTANT", r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?(?![\w.:-])"),
    ("DATE", r"\d{4}-\d{2}-\d{2}(?![\w.:-])"),
    ("NUMBER", r"-?\d+(?:\.\d+)?(?![\w.])"),
    ("WORD", r"[A-Za-z_]\w*+(?![.-])"),
    ("OP", r"!=|<=|>=|=|<|>"),
    ("PUNCT", r"[(),]"),
]
SCANNER = re.compile("|".join(f"(?P<{name}>{body})" for name, body in PATTERNS), re.ASCII)
# ASCII only: SQLite stores other letters of a JSON key escaped (`\u00f6`), and its JSON
# paths then never find them.
ATTR_NAME = re.compile(r"(?i:attr)\.([A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)(?![\w.-])")


@dataclass(frozen=True)
class Token:
    kind: str  # INSTANT DATE NUMBER ATTR WORD OP PUNCT STRING END
    text: str  # the token as written (a STRING: its value, escapes undone)
    column: int  # 1-based


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise SegmentError(f"the expression is {len(source):,} characters; at most {MAX_LENGTH:,}")
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        if source[pos] == '"':
            token, pos = _string(source, pos)
            tokens.append(token)
            continue
        token, pos = _other(source, pos)
        if token is not None:
            tokens.append(token)
    tokens.append(Token("END", "", len(source) + 1))
    return tokens


def _other(source: str, pos: int) -> tuple[Token | None, int]:
    attr = ATTR_NAME.match(source, pos)
    if attr:
        return Token("ATTR", attr.group(1), pos + 1), attr.end()
    found = SCANNER.match(source, pos)
    if not found or not found.lastgroup:
        raise SegmentError(_unexpected(source, pos), pos + 1)
    if found.lastgroup == "SPACE":
        return None, found.end()
    return Token(found.lastgroup, found.group(), pos + 1), found.end()


def _unexpected(source: str, pos: int) -> str:
    char = source[pos]
    if source[pos : pos + 5].lower() == "attr.":
        return "an attribute is attr.NAME: an ASCII letter, then letters, digits, _ or inner -"
    if char == "'":
        return "strings are written in double quotes"
    if char == "\x00" or (not char.isprintable() and not char.isspace()):
        return f"unexpected character U+{ord(char):04X}"
    word = re.match(r"\S+", source[pos:])
    shown = word.group() if word else char
    return f'unexpected "{shown[:30]}"'


def _string(source: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    pos = start + 1
    while pos < len(source):
        char = source[pos]
        if char == '"':
            return Token("STRING", "".join(chars), start + 1), pos + 1
        if char == "\\":
            following = source[pos + 1 : pos + 2]
            if following not in ('"', "\\"):
                raise SegmentError('in a string, \\ escapes only " and \\', pos + 1)
            chars.append(following)
            pos += 2
            continue
        if char == "\x00" or (not char.isprintable() and char not in " \t"):
            raise SegmentError(f"unexpected character U+{ord(char):04X} in a string", pos + 1)
        chars.append(char)
        pos += 1
    raise SegmentError('this string is never closed (a missing ")', start + 1)
