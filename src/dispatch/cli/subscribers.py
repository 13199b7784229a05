"""`dispatch subscribers …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Subscribers.", no_args_is_help=True)
