"""Control characters pasted from word processors, removed before parsing, with a warning.

Word's Shift+Enter (a manual line break) arrives as a vertical tab (U+000B), a page
break as a form feed (U+000C); other C0 controls (U+0000 to U+001F but tab and LF) come
from copy-and-paste accidents. YAML refuses them all ("special characters are not
allowed") and XML cannot carry them, so they never reach a parser: in front matter a
line or page break becomes a space (values stay on their line), in the body it becomes
a line break; any other control character is dropped. Each change is reported with
the line it was on.
"""

from __future__ import annotations

import re
from pathlib import Path

from dispatch.ingest.document import IngestWarning

CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BREAKS = frozenset("\x0b\x0c")
NAMES = {"\x0b": "a line break from a word processor", "\x0c": "a page break"}
FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
SHOWN_LINES = 5


def scrub(path: Path, text: str) -> tuple[str, tuple[IngestWarning, ...]]:
    """`text` without control characters, and one warning per kind of character found."""
    if CONTROLS.search(text) is None:
        return text, ()
    end = _front_matter_end(text)
    found: dict[str, list[int]] = {}

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        lines = found.setdefault(char, [])
        line = text.count("\n", 0, match.start()) + 1
        if line not in lines:
            lines.append(line)
        if char not in BREAKS:
            return ""
        return " " if match.start() < end else "\n"

    cleaned = CONTROLS.sub(replace, text)
    return cleaned, tuple(_warning(path, char, lines) for char, lines in found.items())


def _front_matter_end(text: str) -> int:
    """Where front matter (opened by `---` on the first line) closes; 0 when there is none."""
    if not text.startswith("---"):
        return 0
    first_break = text.find("\n")
    if first_break < 0:
        return 0
    closing = FRONT_MATTER_END.search(text, first_break + 1)
    return closing.start() if closing else 0


def _warning(path: Path, char: str, lines: list[int]) -> IngestWarning:
    code = f"U+{ord(char):04X}"
    what = NAMES.get(char, "a control character")
    action = "replaced by a line break or a space" if char in BREAKS else "removed"
    more = f" (also on line {', '.join(map(str, lines[1:SHOWN_LINES]))}" if len(lines) > 1 else ""
    if len(lines) > SHOWN_LINES:
        more += f" and {len(lines) - SHOWN_LINES} more"
    more += ")" if len(lines) > 1 else ""
    return IngestWarning(path, lines[0], f"{code}, {what}, {action}{more}")
