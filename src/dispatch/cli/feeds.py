"""`dispatch feeds …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Feeds.", no_args_is_help=True)
