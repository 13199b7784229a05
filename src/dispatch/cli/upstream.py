"""`dispatch upstream …`: poll the upstream RSS/Atom feeds now, or see their state."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table
from rich.text import Text

from dispatch.cli.context import app_context, console, errors
from dispatch.config import UpstreamSourceSettings
from dispatch.ingest.upstream import PollReport, find_source, poll_all, poll_source
from dispatch.ingest.upstream_state import rows_by_key
from dispatch.store.models import UpstreamSource

app = typer.Typer(
    help="Upstream RSS/Atom feeds whose entries become articles.", no_args_is_help=True
)

NONE_CONFIGURED = "No upstream feeds configured: add [[upstream.sources]] to config.toml."


@app.command("poll")
def poll_command(
    ctx: typer.Context,
    source: str | None = typer.Argument(
        None, help="A feed's name or URL (as in config.toml). Default: the feeds due now."
    ),
    all_: bool = typer.Option(False, "--all", help="Every enabled feed now, due or not."),
) -> None:
    """Fetch feeds and import their new and edited entries as articles."""
    context = app_context(ctx)
    settings = context.settings()
    if source is not None and all_:
        raise typer.BadParameter("name one feed or give --all, not both")
    if not settings.upstream.sources:
        console.print(NONE_CONFIGURED, markup=False)
        return
    if source is not None:
        chosen = find_source(settings, source)
        report = PollReport([poll_source(context.database(), settings, chosen)])
    else:
        report = poll_all(context.database(), settings, due_only=not all_)
    for result in report.results:
        printer = console if result.ok else errors
        printer.print(result.line(), markup=False, soft_wrap=True)
    console.print(report.summary() if report.results else "No feed is due.", markup=False)
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """The configured feeds and their polling state."""
    context = app_context(ctx)
    sources = context.settings().upstream.sources
    if not sources:
        console.print(NONE_CONFIGURED, markup=False)
        return
    with context.database().session() as session:
        rows = rows_by_key(session, (source.key for source in sources))
    for number, source in enumerate(sources):
        if number:
            console.print()
        console.print(_state(source, rows.get(source.key)))


def _state(source: UpstreamSourceSettings, row: UpstreamSource | None) -> Table:
    """One feed: its key as the title, then its fields (nothing cut: people copy URLs)."""
    status = row.status.value if row is not None else "never polled"
    grid = Table.grid(padding=(0, 2))
    grid.title = Text(f"{source.key} ({status if source.enabled else status + ', disabled'})")
    grid.title_justify = "left"
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    values = {
        "url": row.url if row is not None else source.url,
        "section": source.section,
        "failures": str(row.failures) if row is not None else "0",
        "last polled": _when(row.last_polled_at if row is not None else None),
        "next poll": _when(row.next_poll_at if row is not None else None),
        "last error": (row.last_error if row is not None else None) or "-",
    }
    if row is not None and row.url != source.url:
        values["configured url"] = source.url
    for name, value in values.items():
        grid.add_row(name, Text(value))
    return grid


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
