"""The `dispatch` command line: thin commands that parse, call and print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from dispatch.cli import (
    articles,
    bounces,
    campaigns,
    doctor,
    editors,
    feeds,
    lists,
    preview,
    scheduler,
    send,
    serve,
    setup,
    subscribers,
    tokens,
    upstream,
    worker,
)
from dispatch.cli.context import AppContext, errors
from dispatch.errors import DispatchError


class DispatchGroup(TyperGroup):
    """Turns a DispatchError anywhere below into one red line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DispatchError as exc:
            for line in str(exc).splitlines():
                errors.print(f"[red]error:[/red] {line}", markup=True, soft_wrap=True)
            raise typer.Exit(2) from None


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


setup.register(app)
app.add_typer(lists.app, name="lists")
app.add_typer(articles.app, name="articles")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(preview.app, name="preview")
app.add_typer(feeds.app, name="feeds")
app.add_typer(send.app, name="send")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(upstream.app, name="upstream")
app.add_typer(editors.app, name="editors")
app.add_typer(tokens.app, name="tokens")
app.add_typer(bounces.app, name="bounces")
app.command("serve")(serve.serve)
app.command("scheduler")(scheduler.scheduler)
app.command("worker")(worker.worker)
app.command("doctor")(doctor.doctor)


def main() -> None:
    app(prog_name="dispatch")
