"""Cells that spreadsheets would run as formulas, made inert (OWASP "CSV injection").

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return (or the fullwidth
forms U+FF1D, U+FF0B, U+FF0D, U+FF20, which some input methods turn into the ASCII
ones) gets a leading `'`: spreadsheets show the text as typed and never evaluate it. A
cell that starts with quotes followed by one of those also gets one more quote, so
`restore` (used when a file is imported back) gives every cell exactly as it was:
`restore(neutralise(x)) == x`.
"""

from __future__ import annotations

from collections.abc import Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
QUOTE = "'"


def _risky(cell: str) -> bool:
    return cell.lstrip(QUOTE).startswith(TRIGGERS)


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it without evaluating it."""
    return QUOTE + cell if _risky(cell) else cell


def restore(cell: str) -> str:
    """The cell `neutralise` was given (a cell it did not change comes back as it is)."""
    return cell[1:] if cell.startswith(QUOTE) and _risky(cell) else cell


def safe_row(cells: Iterable[str]) -> list[str]:
    return [neutralise(cell) for cell in cells]
