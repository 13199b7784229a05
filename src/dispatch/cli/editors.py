"""`dispatch editors …`: add, list, disable, enable, set-password.

Passwords are asked for twice with hidden input, or read from the first line of stdin
with `--password-stdin` (for scripts: `printf '%s\\n' "$PW" | dispatch editors add …`).
They never appear on the command line, where `ps` and shell history would show them.
"""

from __future__ import annotations

import sys
from datetime import datetime

import typer
from rich.table import Table

from dispatch.audit import CLI
from dispatch.auth.editors import create_editor, list_editors, set_active, set_password
from dispatch.auth.passwords import Passwords, check_strength
from dispatch.cli.context import app_context, console
from dispatch.errors import AccountError
from dispatch.store.models import Editor, EditorRole
from dispatch.store.types import utcnow

app = typer.Typer(help="Editors who log in to /admin.", no_args_is_help=True)

PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin."
)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AccountError("--password-stdin: stdin is empty")
        return check_strength(line.rstrip("\r\n"))
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return check_strength(str(password))


@app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The editor's email address (their login)."),
    role: EditorRole = typer.Option(
        EditorRole.EDITOR, "--role", help="admin: also manages editors and API tokens."
    ),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add an editor who can log in to /admin."""
    database = app_context(ctx).database()
    password = read_password(password_stdin)
    with database.session() as session:
        editor = create_editor(session, Passwords(), email, password, role)
        address, granted = editor.email, editor.role.value
    console.print(f"added {granted} {address}", markup=False)


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Every editor, with role, status and last login."""
    database = app_context(ctx).database()
    with database.session() as session:
        editors = list_editors(session)
    table = Table("email", "role", "status", "created", "last login", title="Editors")
    now = utcnow()
    for editor in editors:
        table.add_row(
            editor.email,
            editor.role.value,
            status(editor, now),
            when(editor.created_at),
            when(editor.last_login_at) or "never",
        )
    console.print(table)


@app.command("disable")
def disable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Stop an editor from logging in; their open sessions end at once."""
    database = app_context(ctx).database()
    with database.session() as session:
        address = set_active(session, email, False, actor=CLI).email
    console.print(f"disabled {address}", markup=False)


@app.command("enable")
def enable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Let a disabled editor log in again."""
    database = app_context(ctx).database()
    with database.session() as session:
        address = set_active(session, email, True, actor=CLI).email
    console.print(f"enabled {address}", markup=False)


@app.command("set-password")
def set_password_command(
    ctx: typer.Context, email: str = typer.Argument(...), password_stdin: bool = PASSWORD_STDIN
) -> None:
    """A new password; the editor's other sessions end and a lock-out is lifted."""
    database = app_context(ctx).database()
    password = read_password(password_stdin)
    with database.session() as session:
        address = set_password(session, Passwords(), email, password, actor=CLI).email
    console.print(f"password changed for {address}; their sessions have ended", markup=False)


def status(editor: Editor, now: datetime) -> str:
    if not editor.active:
        return "disabled"
    if editor.locked_until is not None and editor.locked_until > now:
        return f"locked until {when(editor.locked_until)}"
    return "active"


def when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"
