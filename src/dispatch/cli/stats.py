"""`dispatch stats`: subscriber growth per day or week and the recent campaigns, as the
admin dashboard shows them — tables in the terminal, or CSV with `--csv`."""

from __future__ import annotations

from typing import Literal

import typer
from rich.table import Table

from dispatch.cli.context import app_context, console
from dispatch.stats.csv_export import campaigns_csv, growth_csv
from dispatch.stats.growth import MAX_PERIODS, growth
from dispatch.stats.recent import recent_campaigns
from dispatch.store.types import utcnow


def stats(
    ctx: typer.Context,
    by: str = typer.Option("day", "--by", help="Periods of a day or a week (Monday first)."),
    periods: int = typer.Option(
        0, "--periods", min=0, max=MAX_PERIODS, help="How many (default 30 days, 12 weeks)."
    ),
    list_slug: str | None = typer.Option(None, "--list", help="One list only (growth)."),
    recent: int = typer.Option(10, "--recent", min=1, max=1000, help="Campaigns shown."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV instead of tables."),
    only: str | None = typer.Option(None, "--only", help="growth or campaigns."),
) -> None:
    """Subscribed, unsubscribed and net per period; sent, bounced and clicks per campaign."""
    if by not in ("day", "week"):
        raise typer.BadParameter('"day" or "week"', param_hint="--by")
    if only not in (None, "growth", "campaigns"):
        raise typer.BadParameter('"growth" or "campaigns"', param_hint="--only")
    if as_csv and only is None:
        only = "growth"  # one CSV document at a time
    context = app_context(ctx)
    settings = context.settings()
    if list_slug is not None:
        settings.list(list_slug)  # ConfigError naming the known lists
    unit: Literal["day", "week"] = "day" if by == "day" else "week"
    count = periods or (30 if unit == "day" else 12)
    with context.database().session() as session:
        rows = growth(session, utcnow(), settings.site.timezone, unit, count, list_slug)
        campaigns = recent_campaigns(session, recent)
    if as_csv:
        text = growth_csv(rows) if only == "growth" else campaigns_csv(campaigns)
        typer.echo(text, nl=False)
        return
    if only in (None, "growth"):
        table = Table(
            "period from", "subscribed", "unsubscribed", "net", title=f"Growth per {unit}"
        )
        for row in rows:
            table.add_row(
                row.label, f"{row.subscribed:,}", f"{row.unsubscribed:,}", f"{row.net:+,}"
            )
        console.print(table)
    if only in (None, "campaigns"):
        table = Table("id", "list", "subject", "started", "sent", "bounced", "clicks")
        table.title = "Recent campaigns"
        for c in campaigns:
            table.add_row(
                str(c.id),
                c.list_slug,
                c.subject,
                f"{c.started_at:%Y-%m-%d %H:%M}",
                f"{c.sent:,}",
                f"{c.bounced:,}",
                f"{c.clicks:,}",
            )
        console.print(table)
