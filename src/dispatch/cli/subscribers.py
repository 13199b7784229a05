"""`dispatch subscribers …`: import, confirm-pending, export, add, show, suppress, delete."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dispatch.cli.context import app_context, console, errors
from dispatch.cli.progress import progress_bar
from dispatch.cli.subscriber_show import show_command
from dispatch.subscribers import (
    ImportSummary,
    Reject,
    add_subscriber,
    erase_subscriber,
    export_subscribers,
    export_to_file,
    import_subscribers,
    suppress_address,
)
from dispatch.subscribers.csv_export import STATUSES
from dispatch.subscribers.csv_import import FILE_STATUSES
from dispatch.subscribers.import_caps import ATTRIBUTES_MAX
from dispatch.subscribers.import_services import CHOICES
from dispatch.subscribers.reconfirm import send_pending_confirmations

SHOWN_REJECTS = 1000  # printed one by one; all of them go to the rejects file
app = typer.Typer(
    help="Subscribers: CSV import and export, add, suppress, delete.", no_args_is_help=True
)


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with an email column."),
    list_slug: str = typer.Option(..., "--list", help="Slug of the list to subscribe them to."),
    confirmed: bool = typer.Option(False, "--confirmed", help="They already opted in."),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where rejected rows go (default: FILE.rejects.csv beside FILE)."
    ),
    source: str = typer.Option(
        "auto",
        "--from",
        help=f"Whose export FILE is: {', '.join(CHOICES)} (auto: told by its columns).",
    ),
    status: str | None = typer.Option(
        None,
        "--status",
        help=f"Give every row this status ({', '.join(FILE_STATUSES)}): e.g. Mailchimp's "
        "separate unsubscribed file. Unsubscribed and cleaned people become suppressions.",
    ),
) -> None:
    """Stream FILE into a list; bad rows are reported and skipped (exit status 1).

    Another service's statuses decide pending or confirmed (--confirmed then applies
    to Dispatch's own files only); its unsubscribed and cleaned people are kept as
    suppressions, never mailed."""
    if source not in CHOICES:
        raise typer.BadParameter(f"choose one of {', '.join(CHOICES)}", param_hint="--from")
    if status is not None and status not in FILE_STATUSES:
        raise typer.BadParameter(f"choose one of {', '.join(FILE_STATUSES)}", param_hint="--status")
    database = app_context(ctx).database()

    shown = 0

    def report(reject: Reject) -> None:
        nonlocal shown
        shown += 1
        if shown <= SHOWN_REJECTS:
            errors.print(f"{file}:{reject.line}: {reject.reason}", markup=False, soft_wrap=True)
        elif shown == SHOWN_REJECTS + 1:
            errors.print(f"{file}: more rejected rows are only written to the rejects file")

    with progress_bar(f"importing {file.name}", unit="bytes") as progress:
        summary = import_subscribers(
            database,
            file,
            list_slug,
            confirmed=confirmed,
            rejects_path=rejects,
            on_reject=report,
            source=source,
            status=status,
            on_progress=progress,
        )
    for line in summary_lines(summary, list_slug, confirmed):
        console.print(line, markup=False, soft_wrap=True)
    if summary.rejected:
        raise typer.Exit(1)


def summary_lines(summary: ImportSummary, list_slug: str, confirmed: bool) -> list[str]:
    state = "confirmed" if confirmed else "pending"
    if summary.source != "dispatch":
        state = "pending or confirmed as the export says"
    lines = [
        f"read as: {summary.source} export ({summary.file_format})",
        f"rows read: {summary.rows:,}",
        f"subscribers created: {summary.created:,}, updated: {summary.updated:,}",
        f"subscribed to {list_slug}: {summary.subscribed:,} ({state})"
        + (f", pending confirmed: {summary.confirmed:,}" if confirmed else ""),
        f"already subscribed: {summary.already:,}",
        f"skipped: {summary.suppressed:,} suppressed, {summary.unsubscribed:,} unsubscribed",
    ]
    if summary.source != "dispatch":
        lines.append(
            f"kept as suppressions (unsubscribed or cleaned there): {summary.kept_suppressed:,}"
            f", not imported (the export says so): {summary.skipped:,}"
        )
    if summary.unknown_columns:
        names = ", ".join(summary.unknown_columns)
        lines.append(f"unknown columns (kept as attributes): {names}")
    if summary.dropped_columns:
        names = ", ".join(summary.dropped_columns)
        lines.append(f"columns not kept (at most {ATTRIBUTES_MAX} attributes): {names}")
    lines.append(f"rejected: {summary.rejected:,}")
    if summary.rejects_path is not None:
        lines[-1] += f" (written to {summary.rejects_path})"
    return lines


@app.command("confirm-pending")
def confirm_pending_command(
    ctx: typer.Context,
    list_slug: str = typer.Option(..., "--list", help="Slug of the list."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Send a confirmation mail to every pending subscriber of a list (at most one an
    hour per address; never to a suppressed one). They receive nothing else until they
    confirm."""
    context = app_context(ctx)
    settings = context.stored_settings()
    settings.list(list_slug)
    if not yes:
        typer.confirm(
            f"Send confirmation mails to the pending subscribers of {list_slug}?", abort=True
        )
    report = send_pending_confirmations(context.database(), settings, list_slug)
    console.print(
        f"pending: {report.pending}, confirmation mails sent: {report.sent}, "
        f"skipped (one sent in the last hour): {report.recent}, not accepted: {report.failed}"
    )
    if report.failed:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    ctx: typer.Context,
    list_slug: str = typer.Option(..., "--list", help="Slug of the list."),
    out: Path | None = typer.Option(None, "--out", help="CSV file to write (default: stdout)."),
    status: str = typer.Option("all", "--status", help=f"One of: {', '.join(STATUSES)}."),
    raw: bool = typer.Option(
        False,
        "--raw",
        help="Cells exactly as stored: no leading ' on cells a spreadsheet would run as a "
        "formula (=, +, -, @). Only for files no spreadsheet will open.",
    ),
) -> None:
    """Write a list's subscribers as CSV (email, name, status, subscribed_at, attributes…).

    Cells starting with =, +, -, @, a tab or CR get a leading ' so that spreadsheets show
    them as text (`--raw` leaves them as they are); `subscribers import` takes it off."""
    if status not in STATUSES:
        raise typer.BadParameter(f"choose one of {', '.join(STATUSES)}", param_hint="--status")
    database = app_context(ctx).database()
    with database.session() as session:
        if out is None:
            export_subscribers(session, list_slug, sys.stdout, status, raw=raw)
            return
        with progress_bar(f"exporting {list_slug}") as progress:
            count = export_to_file(session, list_slug, out, status, raw=raw, on_progress=progress)
    errors.print(f"exported {count:,} subscribers of {list_slug} to {out}", markup=False)


@app.command("add")
def add_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Email address."),
    list_slug: str = typer.Option(..., "--list", help="Slug of the list."),
    name: str = typer.Option("", "--name", help="Their name."),
    confirmed: bool = typer.Option(False, "--confirmed", help="They already opted in."),
) -> None:
    """Subscribe one address (pending unless --confirmed); refused if suppressed (exit 1)."""
    database = app_context(ctx).database()
    with database.session() as session:
        added = add_subscriber(session, list_slug, email, name=name, confirmed=confirmed)
    console.print(f"{added.email}: {added.describe()}", markup=False)
    if added.refused:
        raise typer.Exit(1)


app.command("show")(show_command)


@app.command("suppress")
def suppress_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Email address."),
    reason: str = typer.Option("operator", "--reason", help="Why (kept with the address)."),
) -> None:
    """Never mail this address again (checked at send time and by imports)."""
    database = app_context(ctx).database()
    with database.session() as session:
        created = suppress_address(session, email, reason)
    state = "suppressed" if created else "already suppressed"
    console.print(f"{email.strip()}: {state}", markup=False)


@app.command("delete")
def delete_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Email address."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase everything stored about a person (privacy request)."""
    if not yes:
        typer.confirm(f"Erase everything stored about {email}?", abort=True)
    database = app_context(ctx).database()
    with database.session() as session:
        erasure = erase_subscriber(session, email)
    console.print(
        f"erased {erasure.email}: {erasure.subscriber} subscriber, "
        f"{erasure.subscriptions} subscriptions, {erasure.suppressions} suppressions",
        markup=False,
    )
