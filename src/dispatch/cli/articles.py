"""`dispatch articles …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Articles.", no_args_is_help=True)
