"""The stats as CSV for spreadsheets, formula-safe (OWASP CSV injection): a cell starting
with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.

(A local neutraliser; the project's shared one replaces it when they meet.)"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from dispatch.stats.growth import GrowthRow
from dispatch.stats.recent import CampaignNumbers

RISKY = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Text as a spreadsheet shows it, never run: counts we computed (ints, like a net of
    -3) stay numbers; any text starting with a formula character gets a `'`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(RISKY) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()


def growth_csv(rows: Sequence[GrowthRow]) -> str:
    return to_csv(
        ["period_start", "subscribed", "unsubscribed", "net"],
        ([r.label, r.subscribed, r.unsubscribed, r.net] for r in rows),
    )


def campaigns_csv(rows: Sequence[CampaignNumbers]) -> str:
    return to_csv(
        ["campaign", "list", "subject", "started_at", "sent", "bounced", "clicks"],
        (
            [r.id, r.list_slug, r.subject, r.started_at.isoformat(), r.sent, r.bounced, r.clicks]
            for r in rows
        ),
    )
