"""The `dispatch` command line: thin commands that parse, call and print.

Each command's module is imported only when that command runs (`COMMANDS`): `dispatch
send` does not pay for the web app, trafilatura or Celery, so it starts in a fraction of
the time (the start-up is part of every send from a terminal or a cron job).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from dispatch.cli.context import AppContext, errors
from dispatch.errors import DispatchError

# name → "module:attribute": a Typer app (a group of commands) or a command function
COMMANDS = {
    "init": "dispatch.cli.setup:init",
    "db": "dispatch.cli.setup:db_app",
    "lists": "dispatch.cli.lists:app",
    "articles": "dispatch.cli.articles:app",
    "subscribers": "dispatch.cli.subscribers:app",
    "segments": "dispatch.cli.segments:app",
    "preview": "dispatch.cli.preview:app",
    "feeds": "dispatch.cli.feeds:app",
    "send": "dispatch.cli.send:app",
    "campaigns": "dispatch.cli.campaigns:app",
    "upstream": "dispatch.cli.upstream:app",
    "editors": "dispatch.cli.editors:app",
    "tokens": "dispatch.cli.tokens:app",
    "serve": "dispatch.cli.serve:serve",
    "scheduler": "dispatch.cli.scheduler:scheduler",
    "worker": "dispatch.cli.worker:worker",
    "bounces": "dispatch.cli.bounces:app",
    "doctor": "dispatch.cli.doctor:doctor",
    "audit": "dispatch.cli.audit:audit",
    "stats": "dispatch.cli.stats:stats",
}


class DispatchGroup(TyperGroup):
    """Loads each command when it is asked for; turns a DispatchError anywhere below into
    one red line and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module, _, name = COMMANDS[cmd_name].partition(":")
        target = getattr(import_module(module), name)
        if isinstance(target, typer.Typer):
            command: click.Command = typer.main.get_group(target)
        else:
            single = typer.Typer()
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        _plain_help(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DispatchError as exc:
            for line in str(exc).splitlines():
                errors.print(f"[red]error:[/red] {line}", markup=True, soft_wrap=True)
            raise typer.Exit(2) from None


def _plain_help(command: click.Command) -> None:
    """Help as plain text everywhere, as the top level prints it."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for child in getattr(command, "commands", {}).values():
        _plain_help(child)


app = typer.Typer(
    cls=DispatchGroup,
    help="Dispatch: articles in, email digests and RSS/Atom/JSON feeds out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Configuration file (default: $DISPATCH_CONFIG, then ./config.toml).",
        envvar="DISPATCH_CONFIG",
    ),
) -> None:
    ctx.obj = AppContext(config_path=config)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    app(prog_name="dispatch")
