"""`dispatch audit`: the newest audit log entries (who did what, when, from where).

One entry a line, tab-separated (when, who, action, on what, from, detail), so that
nothing is cut to the terminal's width and the output can be searched with grep."""

from __future__ import annotations

import typer

from dispatch.audit import recent
from dispatch.cli.context import app_context, errors


def audit(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many entries."),
    action: str = typer.Option("", "--action", help='One action, or a prefix ending in ".".'),
    actor: str = typer.Option("", "--actor", help="Only this editor (address) or api:<token>."),
) -> None:
    """The audit log, newest first: logins, sends, pauses, deletions, exports, tokens…"""
    database = app_context(ctx).database()
    with database.session() as session:
        rows = recent(session, limit=limit, action=action or None, actor=actor or None)
    for row in rows:
        cells = (row.at.strftime("%Y-%m-%d %H:%M:%S"), row.actor, row.action, row.target)
        line = "\t".join((*cells, row.ip, row.detail)).replace("\n", " ")
        typer.echo(line)  # plain: Rich would turn the tabs into spaces
    if not rows:
        errors.print("no audit entries", markup=False)
