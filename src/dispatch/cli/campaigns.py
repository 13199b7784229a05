"""`dispatch campaigns …`: list, show, pause, resume, cancel, run-due — and the progress
display that `dispatch send …` shares."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar
from rich.table import Table

from dispatch.campaigns import CampaignRunner, Hooks, Progress, RecipientLinks, RunOptions, control
from dispatch.campaigns.due import run_due
from dispatch.campaigns.progress import status_counts
from dispatch.cli.context import AppContext, app_context, console
from dispatch.events.history import campaign_feedback
from dispatch.store.models import DeliveryStatus
from dispatch.store.types import utcnow

app = typer.Typer(help="Campaigns: list, inspect, pause, resume, cancel.", no_args_is_help=True)
WAIT_HELP = "Wait for retries that are not due yet, with a countdown (--no-wait: return)."


def run_with_progress(context: AppContext, campaign_id: int, wait: bool) -> Progress:
    """Run one campaign with a Rich progress bar; prints and returns the summary."""
    from dispatch.delivery.factory import make_sender  # the CLI picks the provider

    settings = context.settings()
    sender = make_sender(settings)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Bar(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"campaign {campaign_id}", total=None)

            def show(progress: Progress) -> None:
                bar.update(
                    task,
                    total=progress.total,
                    completed=progress.done,
                    description=f"campaign {campaign_id}",
                )

            def countdown(progress: Progress, until: datetime) -> None:
                left = max(0, int((until - utcnow()).total_seconds()))
                bar.update(
                    task, description=f"{progress.waiting} retries in {left // 60}:{left % 60:02d}"
                )

            runner = CampaignRunner(
                context.database(),
                sender,
                RecipientLinks.from_settings(settings),
                RunOptions.from_settings(settings.delivery, wait_for_retries=wait),
                hooks=Hooks(on_progress=show, on_wait=countdown),
            )
            progress = runner.run(campaign_id)
            show(progress)
    finally:
        sender.close()
    print_summary(progress, settings.site.timezone)
    return progress


def print_summary(progress: Progress, timezone: str) -> None:
    console.print(
        f"Campaign {progress.campaign_id}: {progress.status}. Sent {progress.sent:,}, "
        f"failed {progress.failed:,}, skipped {progress.skipped:,}, "
        f"suppressed {progress.suppressed:,}, in doubt {progress.in_doubt:,} "
        f"(of {progress.total:,} recipients)."
    )
    if progress.busy:
        console.print("Another process is sending this campaign right now; nothing done.")
    if progress.pause_reason and progress.status == "paused":
        console.print(f"Paused: {escape(progress.pause_reason)}", soft_wrap=True)
    if progress.waiting and progress.next_retry_at and progress.status == "sending":
        when = progress.next_retry_at.astimezone(ZoneInfo(timezone))
        console.print(
            f"{progress.waiting:,} waiting for a retry (next at {when:%Y-%m-%d %H:%M:%S %Z}): "
            f"`dispatch campaigns resume {progress.campaign_id}` or `campaigns run-due`."
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
        campaign = found.campaign
        console.print(
            f"Campaign {campaign.id} · {campaign.mailing_list.slug} · {campaign.kind.value}"
            + (f" · test to {campaign.test_to}" if campaign.test_to else "")
        )
        console.print(f"Subject: {escape(campaign.subject)}", soft_wrap=True)
        console.print(
            f"Status: {campaign.status.value}"
            + (" (a process is sending it now)" if found.running else "")
        )
        for label, value in (
            ("scheduled", campaign.scheduled_at),
            ("started", campaign.started_at),
            ("finished", campaign.finished_at),
        ):
            if value:
                console.print(f"{label.capitalize()}: {value:%Y-%m-%d %H:%M:%S %Z}")
        console.print(f"Recipients: {campaign.recipients_total:,}")
        console.print(
            "  " + ", ".join(f"{status.value} {count:,}" for status, count in found.counts.items())
        )
        feedback = campaign_feedback(session, campaign_id)
        console.print(f"Bounced: {feedback.bounced:,}, complained: {feedback.complained:,}")
        console.print(f"In doubt (possible duplicates after crashes): {campaign.in_doubt:,}")
        if campaign.pause_reason:
            console.print(f"Pause reason: {escape(campaign.pause_reason)}", soft_wrap=True)
        for email, error in found.errors:
            console.print(f"  {escape(email)}: {escape(error)}", soft_wrap=True)


@app.command("pause")
def pause(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Stop sending at the next batch; `resume` continues."""
    with app_context(ctx).database().session() as session:
        control.pause(session, campaign_id)
    console.print(f"Campaign {campaign_id} paused (a running send stops after its current batch).")


@app.command("resume")
def resume(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="ID"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
) -> None:
    """Continue a paused or interrupted campaign; resuming a sent one does nothing."""
    context = app_context(ctx)
    with context.database().session() as session:
        campaign = control.resume(session, campaign_id)
        status = campaign.status.value
    if status == "sent":
        console.print(f"Campaign {campaign_id} was already sent: nothing to do.")
        return
    progress = run_with_progress(context, campaign_id, wait)
    if progress.status != "sent":
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
        skipped = control.cancel(session, campaign_id, utcnow())
    console.print(f"Campaign {campaign_id} cancelled: {skipped:,} recipients will not get it.")


@app.command("run-due")
def run_due_command(
    ctx: typer.Context,
    wait: bool = typer.Option(False, "--wait/--no-wait", help=WAIT_HELP),
) -> None:
    """Start scheduled campaigns whose time has come; resume interrupted ones."""
    from dispatch.delivery.factory import make_sender

    context = app_context(ctx)
    settings = context.settings()
    sender = make_sender(settings)
    try:
        runner = CampaignRunner(
            context.database(),
            sender,
            RecipientLinks.from_settings(settings),
            RunOptions.from_settings(settings.delivery, wait_for_retries=wait),
        )
        reports = run_due(
            context.database(),
            settings,
            runner,
            on_campaign=lambda i: console.print(f"Running campaign {i}…"),
        )
    finally:
        sender.close()
    for progress in reports:
        print_summary(progress, settings.site.timezone)
    if not reports:
        console.print("Nothing due.")
