"""`dispatch campaigns …`: list, show, pause, resume, cancel, retry-failed, run-due."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from dispatch.campaigns import control
from dispatch.campaigns.due import due_now
from dispatch.campaigns.progress import status_counts
from dispatch.campaigns.results import Results, campaign_results
from dispatch.cli.context import app_context, console
from dispatch.cli.following import (
    engine_context,
    print_summary,
    read_progress,
    send_and_follow,
)
from dispatch.executor import make_executor
from dispatch.executor.inline import InlineExecutor
from dispatch.store.models import DeliveryStatus
from dispatch.store.types import utcnow

app = typer.Typer(help="Campaigns: list, inspect, pause, resume, cancel.", no_args_is_help=True)
WAIT_HELP = (
    "Wait for retries that are not due yet and for an automatic resume after an outage, "
    "with a countdown (--no-wait: return)."
)


@app.command("list")
def list_campaigns(
    ctx: typer.Context, limit: int = typer.Option(50, help="How many, newest first.")
) -> None:
    """Recent campaigns with their status and how many were sent."""
    with app_context(ctx).database().session() as session:
        table = Table("id", "list", "kind", "status", "subject", "sent", "recipients", "when")
        for campaign in control.recent(session, limit):
            counts = status_counts(session, campaign.id)
            when = campaign.finished_at or campaign.started_at or campaign.scheduled_at
            kind = campaign.kind.value + (" (test)" if campaign.test_to else "")
            table.add_row(
                str(campaign.id),
                campaign.mailing_list.slug,
                kind,
                campaign.status.value,
                escape(campaign.subject),
                f"{counts[DeliveryStatus.SENT]:,}",
                f"{campaign.recipients_total:,}",
                f"{when:%Y-%m-%d %H:%M}" if when else "",
            )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Counts per delivery status, in-doubt sends, pause reason and the last errors."""
    with app_context(ctx).database().session() as session:
        found = control.details(session, campaign_id, utcnow())
        campaign, progress = found.campaign, found.progress
        console.print(
            f"Campaign {campaign.id} · {campaign.mailing_list.slug} · {campaign.kind.value}"
            + (f" · test to {campaign.test_to}" if campaign.test_to else "")
        )
        console.print(f"Subject: {escape(campaign.subject)}", soft_wrap=True)
        console.print(
            f"Status: {campaign.status.value}"
            + (" (a runner is sending it now)" if found.running else "")
        )
        for label, value in (
            ("scheduled", campaign.scheduled_at),
            ("started", campaign.started_at),
            ("finished", campaign.finished_at),
        ):
            if value:
                console.print(f"{label.capitalize()}: {value:%Y-%m-%d %H:%M:%S %Z}")
        console.print(f"Recipients: {campaign.recipients_total:,}")
        counts = status_counts(session, campaign.id)
        console.print(
            "  " + ", ".join(f"{status.value} {count:,}" for status, count in counts.items())
        )
        console.print(
            f"In doubt (sent again after an unknown outcome; possible duplicates): "
            f"{progress.in_doubt:,}"
        )
        print_results(campaign_results(session, campaign))
        if campaign.pause_reason:
            console.print(f"Pause reason: {escape(campaign.pause_reason)}", soft_wrap=True)
        if campaign.auto_resume_at:
            console.print(f"Resumes by itself at: {campaign.auto_resume_at:%Y-%m-%d %H:%M:%S %Z}")
        for email, error in found.errors:
            console.print(f"  {escape(email)}: {escape(error)}", soft_wrap=True)


def print_results(results: Results) -> None:
    """The campaign's results: counts, unsubscribes with their times, clicks per link."""
    console.print(
        f"Results: recipients {results.recipients:,}, sent {results.sent:,}, "
        f"failed {results.failed:,}, bounced {results.bounced:,}, "
        f"complained {results.complained:,}, unsubscribed {results.unsubscribed:,}"
    )
    if results.unsubscribed_at:
        times = ", ".join(f"{when:%Y-%m-%d %H:%M}" for when in results.unsubscribed_at)
        console.print(f"Unsubscribed at (newest first): {times}", soft_wrap=True)
    if not results.tracked:
        console.print("Clicks: not tracked (the list's click_tracking is off)")
        return
    console.print(f"Clicks: {results.clicks:,}")
    for link in results.links:
        people = f" ({link.people:,} people)" if link.people else ""
        console.print(f"  {link.clicks:>7,}{people}  {escape(link.url)}", soft_wrap=True)


@app.command("pause")
def pause(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Stop sending before the next message; `resume` continues."""
    with app_context(ctx).database().session() as session:
        control.pause(session, campaign_id)
    console.print(f"Campaign {campaign_id} paused: no message goes out after this.")


@app.command("resume")
def resume(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="ID"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
) -> None:
    """Continue a paused or interrupted campaign; resuming a sent one does nothing."""
    context = app_context(ctx)
    with context.database().session() as session:
        status = control.resume(session, campaign_id).status.value
    if status == "sent":
        console.print(f"Campaign {campaign_id} was already sent: nothing to do.")
        return
    if send_and_follow(context, campaign_id, wait).status != "sent":
        raise typer.Exit(1)


@app.command("retry-failed")
def retry_failed(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="ID"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
) -> None:
    """Send once more to the recipients that failed (not to suppressed addresses)."""
    context = app_context(ctx)
    with context.database().session() as session:
        count = control.retry_failed(session, campaign_id, utcnow())
        status = control.get_campaign(session, campaign_id).status.value
    console.print(f"Campaign {campaign_id}: {count:,} failed recipients queued again.")
    if (
        count
        and status == "sending"
        and send_and_follow(context, campaign_id, wait).status != "sent"
    ):
        raise typer.Exit(1)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="ID"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Cancel: nobody else gets it; what was sent stays sent."""
    if not yes:
        typer.confirm(f"Cancel campaign {campaign_id}?", abort=True)
    with app_context(ctx).database().session() as session:
        cancelled = control.cancel(session, campaign_id, utcnow())
    console.print(f"Campaign {campaign_id} cancelled: {cancelled:,} recipients will not get it.")


@app.command("run-due")
def run_due_command(
    ctx: typer.Context,
    wait: bool = typer.Option(False, "--wait/--no-wait", help=WAIT_HELP),
) -> None:
    """Start scheduled campaigns whose time has come; resume interrupted ones."""
    context = app_context(ctx)
    engines = engine_context(context)
    executor = make_executor(engines)
    try:
        if isinstance(executor, InlineExecutor):
            ids = due_inline(executor, wait)
        else:
            ids = executor.run_due()
    finally:
        executor.close()
    for campaign_id in ids:
        print_summary(read_progress(engines.db, campaign_id), context.settings().site.timezone)
    if not ids:
        console.print("Nothing due.")


def due_inline(executor: InlineExecutor, wait: bool) -> list[int]:
    """run-due here and now: each campaign that needs a runner, one after the other."""
    context = executor.context
    ids = due_now(context.db, context.settings, context.clock)
    for campaign_id in ids:
        console.print(f"Running campaign {campaign_id}…")
        executor.run(campaign_id, wait_for_retries=wait)
    return ids
