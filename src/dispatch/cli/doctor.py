"""`dispatch doctor`: check the setup a bulk sender needs; exit status 1 if something
would make the mail be rejected."""

from __future__ import annotations

import typer

from dispatch.cli.context import app_context, console
from dispatch.errors import StoreError

MARKS = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def doctor(ctx: typer.Context) -> None:
    """Check base_url, alignment, DKIM/SPF/DMARC/MX records, postal address, secret key."""
    from dispatch.doctor import Status, diagnose  # dnspython costs a third of a second

    context = app_context(ctx)
    try:  # the lists as the store has them (created or edited in the admin)
        settings = context.stored_settings()
    except StoreError as exc:  # the checks of DNS and config still help
        console.print(f"[yellow]warn[/yellow] the store: {exc}; checking config.toml's lists")
        settings = context.settings()
    found = diagnose(settings)
    for check in found.checks:
        console.print(f"{MARKS[check.status]} {check.name}: ", end="", soft_wrap=True)
        console.print(check.detail, markup=False, soft_wrap=True)
        if check.fix and check.status is not Status.OK:
            console.print(f"     fix: {check.fix}", markup=False, soft_wrap=True)
    console.print(
        f"{found.count(Status.OK)} ok, {found.count(Status.WARN)} warnings, "
        f"{found.count(Status.FAIL)} blocking"
    )
    if found.blocking:
        raise typer.Exit(1)
