"""`dispatch tokens …`: create, list, revoke API tokens for /api.

`create` prints the token alone on stdout (so `TOKEN=$(dispatch tokens create …)` works)
and a reminder on stderr: it is shown this once; only its hash is stored.
"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from dispatch.audit import CLI, record
from dispatch.auth.tokens import SCOPES, create_token, list_tokens, revoke_token
from dispatch.cli.context import app_context, console, errors
from dispatch.store.types import utcnow

app = typer.Typer(help="API tokens for /api (Authorization: Bearer).", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. 'cms-sync'."),
    scope: list[str] = typer.Option(
        ..., "--scope", help=f"Repeat for several. One of: {', '.join(SCOPES)}."
    ),
) -> None:
    """Create a token and print it (once: only its hash is kept)."""
    database = app_context(ctx).database()
    with database.session() as session:
        issued = create_token(session, name, scope)
        scopes = " ".join(issued.record.scopes)
        record(session, CLI, "token.create", utcnow(), target=f"token {issued.record.name}")
    typer.echo(issued.token)
    errors.print(
        f'token "{name.strip()}" ({scopes}): copy it now, it will not be shown again',
        markup=False,
        soft_wrap=True,
    )


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Every token (never the secret): prefix, scopes, last use, revocation."""
    database = app_context(ctx).database()
    with database.session() as session:
        tokens = list_tokens(session)
    table = Table(title="API tokens (times in UTC)")
    table.add_column("name")
    table.add_column("prefix", no_wrap=True)
    table.add_column("scopes", min_width=14)
    for heading in ("created", "last used", "status"):
        table.add_column(heading)
    for token in tokens:
        table.add_row(
            token.name,
            token.prefix,
            " ".join(token.scopes),
            short(token.created_at),
            short(token.last_used_at) or "never",
            f"revoked {short(token.revoked_at)}" if token.revoked_at else "live",
        )
    console.print(table)


@app.command("revoke")
def revoke(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Revoke the live token called NAME: requests with it get 401 from now on."""
    database = app_context(ctx).database()
    with database.session() as session:
        revoke_token(session, name)
        record(session, CLI, "token.revoke", utcnow(), target=f"token {name.strip()}")
    console.print(f'revoked token "{name.strip()}"', markup=False)


def short(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"
