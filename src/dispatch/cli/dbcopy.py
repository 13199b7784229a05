"""`dispatch db copy --to URL [--from URL]`: move the store to another (empty) database."""

from __future__ import annotations

import typer
from rich.table import Table

from dispatch.cli.context import app_context, console, errors
from dispatch.store.copy import BATCH_SIZE, CopyReport, copy_store, driver_url, safe
from dispatch.store.database import check_connection, make_engine


def register(db_app: typer.Typer) -> None:
    db_app.command("copy")(copy)


def copy(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="The empty target, e.g. postgresql://USER@HOST/DB."),
    source: str | None = typer.Option(
        None, "--from", help="The store to copy (default: database.url of the config)."
    ),
    batch_size: int = typer.Option(BATCH_SIZE, "--batch-size", min=1, help="Rows per batch."),
) -> None:
    """Copy every row into an empty database (migrated first), then verify counts and checksums.

    Stop every process that writes to the store first (web, scheduler, workers)."""
    context = app_context(ctx)
    source_engine = make_engine(driver_url(source)) if source else context.database().engine
    target_engine = make_engine(driver_url(to))
    try:
        check_connection(source_engine)
        check_connection(target_engine)
        console.print(f"copying {safe(source_engine)} → {safe(target_engine)}", soft_wrap=True)
        report = copy_store(
            source_engine,
            target_engine,
            batch_size,
            progress=lambda name, rows: console.print(f"  {name}: {rows} rows"),
        )
    finally:
        target_engine.dispose()
        if source:
            source_engine.dispose()
    _print(report)
    if not report.ok:
        errors.print("[red]error:[/red] the copy differs from the source (see the table above)")
        raise typer.Exit(1)
    console.print("every table matches; point database.url at the new database and start Dispatch")


def _print(report: CopyReport) -> None:
    table = Table("table", "rows", "copied", "sha256", "copy's sha256", "", title="Verified")
    table.columns[0].no_wrap = True
    for check in report.checks:
        table.add_row(
            check.name,
            str(check.source_rows),
            str(check.target_rows),
            check.source_sha256[:12],
            check.target_sha256[:12],
            "ok" if check.ok else "[red]MISMATCH[/red]",
        )
    console.print(table)
    for name, why in report.skipped.items():
        console.print(f"not copied: {name} ({why})", markup=False)
    for name in report.unknown:
        console.print(f"not copied: {name} (not a Dispatch table)", markup=False)
