"""Dates as editors write them: ISO 8601, RFC 822 (`Sun, 15 Nov 2026 09:00:00 +0100`),
or in words (`November 15, 2026`, `15 November 2026 9am`), read with python-dateutil.

All-numeric day/month forms are refused when they could be either (`03/04/2026` is
3 April in London and 4 March in New York): the error asks for an unambiguous form.
A value without a time zone is in the site's time zone; a bare date is its midnight.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dateutil import parser

NUMERIC = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})\b")
DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def parse_date(value: str) -> datetime | date:
    """A date or datetime from text; ValueError saying why not."""
    text = value.strip()
    if not text:
        raise ValueError("the date is empty")
    if DATE_ONLY.match(text):
        return date.fromisoformat(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    _refuse_ambiguous(text)
    try:
        return parser.parse(text, default=datetime(2000, 1, 1))
    except (parser.ParserError, OverflowError, ValueError) as exc:
        raise ValueError(
            f'"{value}" is not a date (write e.g. 2026-11-15, 2026-11-15 09:00, '
            '"15 November 2026" or "Sun, 15 Nov 2026 09:00:00 +0100")'
        ) from exc


def _refuse_ambiguous(text: str) -> None:
    match = NUMERIC.match(text)
    if match is None:
        return
    first, second = int(match.group(1)), int(match.group(2))
    if first <= 12 and second <= 12 and first != second:
        raise ValueError(
            f'"{text}" is ambiguous: day/month or month/day? Write it as {_iso_hint(match)} '
            "or with the month in words"
        )


def _iso_hint(match: re.Match[str]) -> str:
    year = match.group(3)
    year = year if len(year) == 4 else f"20{year}"
    return f"{year}-MM-DD"


def to_datetime(value: datetime | date | str, timezone: str) -> datetime:
    """An aware datetime; naive values and bare dates are in the site's time zone."""
    if isinstance(value, str):
        value = parse_date(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value
