"""`dispatch lists …`: list, create, edit (config.toml seeds lists; the store is the truth)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from dispatch.cli.context import app_context, console
from dispatch.list_editing import create_list, edit_list
from dispatch.lists import list_counts
from dispatch.store.types import utcnow

app = typer.Typer(
    help="Mailing lists (seeded from config.toml by `dispatch init`, then kept in the store).",
    no_args_is_help=True,
)


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


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@app.command("create")
def create(
    ctx: typer.Context,
    slug: str = typer.Argument(help="the list's key (lower-case letters, digits, dashes)"),
    name: str = typer.Option(..., help="the name people see"),
    from_name: str = typer.Option(..., "--from-name"),
    from_email: str = typer.Option(..., "--from-email"),
    description: str = typer.Option(""),
    schedule: str = typer.Option("0 7 * * *", help="digest cron, in the list's time zone"),
    timezone: str | None = typer.Option(None),
    sections: str = typer.Option("", help="article sections carried, comma-separated"),
    reply_to: str | None = typer.Option(None, "--reply-to"),
    double_opt_in: bool = typer.Option(True, "--double-opt-in/--single-opt-in"),
) -> None:
    """Create a list in the store (config.toml is not changed)."""
    context = app_context(ctx)
    values = _given(
        slug=slug,
        name=name,
        from_name=from_name,
        from_email=from_email,
        description=description,
        schedule=schedule,
        timezone=timezone,
        sections=sections,
        reply_to=reply_to,
        double_opt_in=double_opt_in,
    )
    with context.database().session() as session:
        row = create_list(session, context.settings(), values, utcnow())
        console.print(f'created list "{row.slug}" ({row.name})', markup=False)


@app.command("edit")
def edit(
    ctx: typer.Context,
    slug: str = typer.Argument(help="the list's key"),
    name: str | None = typer.Option(None),
    from_name: str | None = typer.Option(None, "--from-name"),
    from_email: str | None = typer.Option(None, "--from-email"),
    description: str | None = typer.Option(None),
    schedule: str | None = typer.Option(None),
    timezone: str | None = typer.Option(None),
    sections: str | None = typer.Option(None),
    reply_to: str | None = typer.Option(None, "--reply-to"),
    double_opt_in: bool | None = typer.Option(None, "--double-opt-in/--single-opt-in"),
) -> None:
    """Change a list; from then on `dispatch init` keeps it as edited."""
    context = app_context(ctx)
    changes = _given(
        name=name,
        from_name=from_name,
        from_email=from_email,
        description=description,
        schedule=schedule,
        timezone=timezone,
        sections=sections,
        reply_to=reply_to,
        double_opt_in=double_opt_in,
    )
    with context.database().session() as session:
        row = edit_list(session, context.settings(), slug, changes, utcnow())
        console.print(f'saved list "{row.slug}" ({row.name})', markup=False)
