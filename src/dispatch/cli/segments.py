"""`dispatch segments …`: saved filters over a list (the language: `dispatch.segments`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.table import Table

from dispatch.campaigns.recipients import count_audience
from dispatch.cli.context import app_context, console, errors
from dispatch.errors import SegmentError
from dispatch.lists import get_list
from dispatch.segments.saved import (
    count_segment,
    create_segment,
    delete_segment,
    find_segment,
    list_segments,
    update_segment,
)
from dispatch.store.types import utcnow

app = typer.Typer(
    help="Segments: saved filters over a list's subscribers "
    '(e.g. tag in ("lisbon") and subscribed after 30 days ago).',
    no_args_is_help=True,
)
LIST_HELP = "The list (needed when two lists have a segment of that name)."


@contextmanager
def pointing_at(expression: str) -> Iterator[None]:
    """A parse error is shown under the expression with a caret at its column."""
    try:
        yield
    except SegmentError as exc:
        if exc.column is not None and "\n" not in expression:
            errors.print(f"  {expression}", markup=False, soft_wrap=True)
            errors.print("  " + " " * (exc.column - 1) + "^", markup=False)
        raise


@app.command("list")
def list_command(
    ctx: typer.Context,
    list_slug: str | None = typer.Option(None, "--list", help="Only this list's segments."),
) -> None:
    """Segments with their current recipient counts."""
    now = utcnow()
    with app_context(ctx).database().session() as session:
        rows = [
            (row, count_segment(session, row, now)) for row in list_segments(session, list_slug)
        ]
        table = Table("list", "name", "recipients", "expression", title="Segments")
        for row, count in rows:
            table.add_row(row.mailing_list.slug, row.name, f"{count:,}", row.expression)
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment's name (or LIST/NAME)."),
    list_slug: str | None = typer.Option(None, "--list", help=LIST_HELP),
) -> None:
    """One segment: its list, expression and how many it selects now."""
    with app_context(ctx).database().session() as session:
        row = find_segment(session, name, list_slug)
        count = count_segment(session, row, utcnow())
        console.print(f"name:       {row.name}", markup=False)
        console.print(f"list:       {row.mailing_list.slug}", markup=False)
        console.print(f"expression: {row.expression}", markup=False)
        console.print(f"recipients: {count:,}", markup=False)
        console.print(f"changed:    {row.updated_at:%Y-%m-%d %H:%M} UTC", markup=False)


@app.command("count")
def count(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="A saved segment's name (or LIST/NAME)."),
    expr: str | None = typer.Option(None, "--expr", help="Count this expression instead."),
    list_slug: str | None = typer.Option(None, "--list", help="The list (needed with --expr)."),
) -> None:
    """How many confirmed, unsuppressed subscribers a segment (or --expr) selects now."""
    if (name is None) == (expr is None):
        raise typer.BadParameter("give a segment NAME or --expr EXPRESSION (one of them)")
    with app_context(ctx).database().session() as session:
        if expr is not None:
            if list_slug is None:
                raise typer.BadParameter("--expr needs --list")
            with pointing_at(expr):
                total = count_audience(session, get_list(session, list_slug).id, expr, utcnow())
        else:
            assert name is not None
            total = count_segment(session, find_segment(session, name, list_slug), utcnow())
    console.print(f"{total:,}")


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name, unique within the list."),
    expression: str = typer.Argument(..., help="The filter, e.g. 'tag = \"weekly\"'."),
    list_slug: str = typer.Option(..., "--list", help="The list it filters."),
) -> None:
    """Save a segment (the expression is checked first)."""
    with app_context(ctx).database().session() as session, pointing_at(expression):
        row = create_segment(session, list_slug, name, expression, utcnow())
        total = count_segment(session, row, utcnow())
        console.print(
            f'Segment "{row.name}" of {list_slug}: {total:,} recipients now.', markup=False
        )


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment's name (or LIST/NAME)."),
    expression: str | None = typer.Option(None, "--expr", help="A new expression."),
    rename: str | None = typer.Option(None, "--name", help="A new name."),
    list_slug: str | None = typer.Option(None, "--list", help=LIST_HELP),
) -> None:
    """Change a segment's expression or name (campaigns already created keep theirs)."""
    with app_context(ctx).database().session() as session, pointing_at(expression or ""):
        row = find_segment(session, name, list_slug)
        update_segment(session, row, utcnow(), name=rename, expression=expression)
        total = count_segment(session, row, utcnow())
        console.print(f'Segment "{row.name}": {total:,} recipients now.', markup=False)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment's name (or LIST/NAME)."),
    list_slug: str | None = typer.Option(None, "--list", help=LIST_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a segment (campaigns created with it keep their copy of the expression)."""
    with app_context(ctx).database().session() as session:
        row = find_segment(session, name, list_slug)
        label = f"{row.mailing_list.slug}/{row.name}"
        if not yes and not typer.confirm(f'Delete the segment "{label}"?'):
            raise typer.Exit(1)
        delete_segment(session, row)
    console.print(f'Deleted the segment "{label}".', markup=False)
