"""`dispatch send …`: a list's digest, one article or a written note — now, as a test,
or at a set time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from dispatch.campaigns import Options, control, create_article, create_digest, create_note
from dispatch.campaigns.create import Created, plan_digest
from dispatch.campaigns.recipients import count_campaign_audience
from dispatch.campaigns.start import empty_audience, start_campaign
from dispatch.cli.campaigns import WAIT_HELP
from dispatch.cli.context import AppContext, app_context, console, errors
from dispatch.cli.following import send_and_follow
from dispatch.delivery.check import check_sender
from dispatch.errors import CampaignError
from dispatch.store.types import utcnow

app = typer.Typer(
    help="Send a list's digest, an article or a note (now, as a test, or later).",
    no_args_is_help=True,
)
LIST_HELP = "The list to send to."
TEST_HELP = "Send only to this address, marked as a test; the list is not touched."
AT_HELP = "Schedule instead (ISO 8601, e.g. 2026-12-01T07:00; no offset = site time zone)."
EMPTY_HELP = "Send even when nobody on the list can receive it (for scripts)."
SEGMENT_HELP = "Send only to this segment of the list (`dispatch segments list`)."
Make = Callable[[Session, datetime, Options], Created | None]


@app.command("digest")
def digest(
    ctx: typer.Context,
    list_slug: str = typer.Option(..., "--list", help=LIST_HELP),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="TIME",
        help="Carry articles published after this instead (ISO 8601; no offset = list's zone).",
    ),
    include: list[str] = typer.Option(
        [],
        "--include",
        metavar="SLUG",
        help="Carry this article even though the list got it as a one-off (repeatable).",
    ),
    test_to: str | None = typer.Option(None, "--test-to", metavar="EMAIL", help=TEST_HELP),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help=AT_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=EMPTY_HELP),
    segment: str | None = typer.Option(None, "--segment", metavar="NAME", help=SEGMENT_HELP),
) -> None:
    """The list's articles published since its previous digest (nothing new: no send).
    Articles the list already got as one-off sends are left out unless --include'd."""
    context = app_context(ctx)
    settings = context.stored_settings()
    zone = settings.list_timezone(settings.list(list_slug))
    start = parse_time(since, zone) if since else None

    def make(session: Session, now: datetime, options: Options) -> Created | None:
        plan = plan_digest(session, settings, list_slug, now, since=start, include=include)
        for skipped in plan.left_out:
            console.print(
                f"Left out {skipped.slug}: {list_slug} got it as a one-off "
                f"(--include {skipped.slug} to carry it anyway).",
                markup=False,
            )
        if not plan.articles:
            since = plan.since.astimezone(
                ZoneInfo(settings.list_timezone(settings.list(list_slug)))
            )
            console.print(
                f"Nothing new in {list_slug} since {since:%Y-%m-%d %H:%M %Z}: no campaign created."
            )
        return create_digest(session, settings, plan, options)

    _send(context, make, test_to, at, yes, wait, allow_empty, segment)


@app.command("article")
def article(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The article's slug."),
    list_slug: str = typer.Option(..., "--list", help=LIST_HELP),
    test_to: str | None = typer.Option(None, "--test-to", metavar="EMAIL", help=TEST_HELP),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help=AT_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=EMPTY_HELP),
    segment: str | None = typer.Option(None, "--segment", metavar="NAME", help=SEGMENT_HELP),
) -> None:
    """One article on its own."""
    context = app_context(ctx)
    settings = context.stored_settings()
    _send(
        context,
        lambda session, now, options: create_article(
            session, settings, slug, list_slug, now, options
        ),
        test_to,
        at,
        yes,
        wait,
        allow_empty,
        segment,
    )


@app.command("note")
def note(
    ctx: typer.Context,
    list_slug: str = typer.Option(..., "--list", help=LIST_HELP),
    subject: str = typer.Option(..., "--subject", help="The subject line."),
    body: Path = typer.Option(
        ..., "--body", exists=True, dir_okay=False, help="Markdown file with the body."
    ),
    test_to: str | None = typer.Option(None, "--test-to", metavar="EMAIL", help=TEST_HELP),
    at: str | None = typer.Option(None, "--at", metavar="TIME", help=AT_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=EMPTY_HELP),
    segment: str | None = typer.Option(None, "--segment", metavar="NAME", help=SEGMENT_HELP),
) -> None:
    """A one-off message written by an editor: a subject and a Markdown body."""
    context = app_context(ctx)
    settings = context.stored_settings()
    text = body.read_text(encoding="utf-8")
    _send(
        context,
        lambda session, now, options: create_note(
            session, settings, list_slug, subject, text, now, options
        ),
        test_to,
        at,
        yes,
        wait,
        allow_empty,
        segment,
    )


def parse_at(value: str, timezone: str) -> datetime:
    """ISO 8601 with or without an offset; without one, in `timezone`."""
    return parse_time(value, timezone, "--at")


def parse_time(value: str, timezone: str, option: str = "--since") -> datetime:
    """ISO 8601 with or without an offset; without one, in `timezone`."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise CampaignError(
            f'{option} "{value}" is not an ISO 8601 time (e.g. 2026-12-01T07:00)'
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(timezone))


def _send(
    context: AppContext,
    make: Make,
    test_to: str | None,
    at: str | None,
    yes: bool,
    wait: bool,
    allow_empty: bool,
    segment: str | None = None,
) -> None:
    settings = context.stored_settings()
    check_sender(settings)  # a missing key or password is found before anything is created
    db = context.database()
    now = utcnow()
    when = parse_at(at, settings.site.timezone) if at else None
    with db.session() as session:
        created = make(session, now, Options(test_to=test_to, at=when, segment=segment))
        if created is None:
            return
        campaign = created.campaign
        campaign_id, subject, list_name = campaign.id, campaign.subject, campaign.mailing_list.name
        count = count_campaign_audience(session, campaign, now)
        target = campaign.segment.name if campaign.segment and not campaign.test_to else None
        if not count and not allow_empty and when is None:
            raise CampaignError(empty_audience(session, campaign))  # rolled back: no campaign
    for warning in created.warnings:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True, soft_wrap=True)
    who = f"{test_to} (test)" if test_to else f"{count:,} recipients of {list_name}"
    if target:
        who = f'{count:,} recipients in the segment "{target}" of {list_name}'
    verb = f"Schedule for {when:%Y-%m-%d %H:%M %Z}" if when else "Send"
    if not yes and not typer.confirm(f'{verb} "{subject}" to {who}?'):
        with db.session() as session:
            session.delete(control.get_campaign(session, campaign_id))
        console.print("Nothing sent.")
        raise typer.Exit(1)
    if when:
        console.print(
            f"Campaign {campaign_id} scheduled for {when:%Y-%m-%d %H:%M %Z} ({who} as of now)."
        )
        return
    with db.session() as session:
        total = start_campaign(
            session,
            control.get_campaign(session, campaign_id),
            settings,
            utcnow(),
            allow_empty=allow_empty,
        )
    console.print(f"Campaign {campaign_id}: sending to {total:,} recipients.")
    if send_and_follow(context, campaign_id, wait).status != "sent":
        raise typer.Exit(1)
