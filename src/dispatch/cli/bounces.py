"""`dispatch bounces …`: serve (SMTP/LMTP intake), poll (IMAP), parse (look, record nothing)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import typer

from dispatch import logs
from dispatch.bounces.imap import poll_mailbox
from dispatch.bounces.intake import BounceIntake
from dispatch.bounces.report import Report, parse_report
from dispatch.bounces.server import bounce_server
from dispatch.bounces.sources import read_messages
from dispatch.cli.context import app_context, console, errors
from dispatch.cli.scheduler import LOG_JSON_HELP, require_schema
from dispatch.errors import ConfigError, DispatchError

app = typer.Typer(
    help="Bounces and complaints: receive (SMTP/LMTP), poll (IMAP), parse.", no_args_is_help=True
)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    log_json: bool | None = typer.Option(None, "--log-json/--log-text", help=LOG_JSON_HELP),
) -> None:
    """Receive bounce and complaint mail on [bounces] listen until SIGTERM or Ctrl-C."""
    context = app_context(ctx)
    settings = context.settings()
    if not settings.bounces.listen or not settings.bounces.domain:
        raise ConfigError(
            f'{settings.path.name}: bounces: set domain and listen (e.g. "127.0.0.1:2525") '
            "to receive bounces"
        )
    require_schema(context)
    logs.configure(settings.logging, log_json)
    server = bounce_server(settings, BounceIntake.from_settings(settings, context.database()))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    protocol = settings.bounces.protocol.upper()
    console.print(
        f"Receiving bounces ({protocol}) at {settings.bounces.listen} for "
        f"{settings.bounces.local_part}+…@{settings.bounces.domain}; Ctrl-C stops it.",
        markup=False,
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    console.print("Bounce receiver stopped.")


@app.command("poll")
def poll_command(ctx: typer.Context) -> None:
    """Read the [bounces.imap] mailbox: record each report, then delete or move it."""
    context = app_context(ctx)
    settings = context.settings()
    require_schema(context)
    intake = BounceIntake.from_settings(settings, context.database())
    report = poll_mailbox(settings, intake)
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.items()))
    console.print(
        f"messages: {report.found}, recorded and removed: {report.handled}"
        + (f" ({kinds})" if kinds else "")
        + f", kept for the next poll: {report.kept}",
        markup=False,
        soft_wrap=True,
    )
    if report.kept:
        raise typer.Exit(1)


@app.command("parse")
def parse_command(
    files: list[Path] = typer.Argument(..., help="Messages, mbox files or Maildir folders."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per message."),
) -> None:
    """Say what each message reports (kind, recipients, status, diagnostic); records nothing."""
    failed = False
    for path in files:
        try:
            for label, data in read_messages(path):
                _show(label, parse_report(data), as_json)
        except (OSError, ValueError, DispatchError) as exc:
            errors.print(f"{path}: {exc}", markup=False, soft_wrap=True)
            failed = True
    if failed:
        raise typer.Exit(1)


def _show(label: str, report: Report, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_json(label), ensure_ascii=False))
        return
    line = f"{label}: {report.kind.value}"
    if report.recipients:
        line += " " + ", ".join(report.recipients)
    if report.status:
        line += f" {report.status}"
    if report.diagnostic:
        line += f" ({report.diagnostic})"
    console.print(line, markup=False, soft_wrap=True)
