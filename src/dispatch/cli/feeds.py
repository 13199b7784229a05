"""`dispatch feeds …`: build and publish the static RSS, Atom and JSON feeds."""

from __future__ import annotations

import typer
from rich.table import Table

from dispatch.cli.context import app_context, console
from dispatch.publish import publish_feeds
from dispatch.render.feed_ids import FEEDS_PATH
from dispatch.render.feeds import FeedFile, build_feeds

app = typer.Typer(help="Feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1).", no_args_is_help=True)


def _build(ctx: typer.Context) -> list[FeedFile]:
    context = app_context(ctx)
    with context.database().session() as session:
        return build_feeds(session, context.settings())


@app.command("build")
def build(
    ctx: typer.Context,
    ping: bool = typer.Option(True, "--ping/--no-ping", help="Ping WebSub hubs on change."),
) -> None:
    """Write every feed under feeds.public_dir (only files whose bytes changed)."""
    settings = app_context(ctx).settings()
    report = publish_feeds(settings, _build(ctx), ping=ping)
    table = Table(
        "feed", "path", "entries", "changed", title=f"Feeds in {settings.feeds.public_dir}"
    )
    for item in report.files:
        changed = "[green]yes[/green]" if item.changed else "no"
        table.add_row(item.file.feed, item.file.path, str(item.file.entries), changed)
    console.print(table)
    console.print(f"{len(report.changed)} of {len(report.files)} files changed")
    for path in report.deleted:
        console.print(f"removed {path} (its feed no longer exists)")
    for result in report.pings:
        outcome = f"HTTP {result.status}" if result.ok else f"[red]{result.error}[/red]"
        console.print(f"WebSub {result.hub} ← {result.url}: {outcome}")


@app.command("list")
def list_feeds(ctx: typer.Context) -> None:
    """Every feed with its path and entry count (nothing is written)."""
    base = f"{app_context(ctx).settings().site.base_url}/{FEEDS_PATH}/"
    table = Table("feed", "format", "entries", "path", title=f"Feeds served at {base}")
    for file in _build(ctx):
        table.add_row(file.feed, file.format.value, str(file.entries), file.path)
    console.print(table)
