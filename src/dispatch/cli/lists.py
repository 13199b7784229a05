"""`dispatch lists …`."""

from __future__ import annotations

import typer
from rich.table import Table

from dispatch.cli.context import app_context, console
from dispatch.lists import list_counts

app = typer.Typer(help="Mailing lists (defined in config.toml).", no_args_is_help=True)


@app.command("list")
def list_lists(ctx: typer.Context) -> None:
    """Lists with their subscriber counts."""
    database = app_context(ctx).database()
    with database.session() as session:
        rows = list_counts(session)
    table = Table("slug", "name", "confirmed", "pending", "unsubscribed", title="Lists")
    for row in rows:
        table.add_row(
            row.slug, row.name, str(row.confirmed), str(row.pending), str(row.unsubscribed)
        )
    console.print(table)
