"""`dispatch preview …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Preview.", no_args_is_help=True)
