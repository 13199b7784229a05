from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from typer.testing import Result

from dispatch.cli.progress import progress_bar
from dispatch.store.database import Database
from test_subscribers_import_services import LIST, copy, people, suppressions


def test_import_from_mailchimp_prints_what_it_read(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = copy("mailchimp_subscribed.csv", tmp_path)
    result = cli("subscribers", "import", str(path), "--list", LIST, "--from", "mailchimp")
    assert result.exit_code == 1, result.output  # one row is not an address
    assert "read as: mailchimp export (utf-8, comma)" in result.output
    assert f"subscribed to {LIST}: 3 (pending or confirmed as the export says)" in result.output
    assert f"{path}:5: " in result.output
    assert len(people(db)) == 3
    # the same people, now as Mailchimp's cleaned file: never mailed from now on
    result = cli("subscribers", "import", str(path), "--list", LIST, "--status", "cleaned")
    assert "kept as suppressions (unsubscribed or cleaned there): 3" in result.output
    assert set(suppressions(db)) == set(people(db))


def test_unknown_source_or_status_is_a_usage_error(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = copy("ghost_members.csv", tmp_path)
    result = cli("subscribers", "import", str(path), "--list", LIST, "--from", "tinyletter")
    assert result.exit_code == 2 and "choose one of auto, dispatch, mailchimp" in result.output
    result = cli("subscribers", "import", str(path), "--list", LIST, "--status", "gone")
    assert result.exit_code == 2 and "choose one of subscribed, pending" in result.output


def test_progress_bar_draws_on_a_terminal_only() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    with progress_bar("importing x.csv", unit="bytes", console=terminal) as report:
        report(512, 1024)
    assert "importing x.csv" in screen.getvalue() and "50%" in screen.getvalue()
    piped = io.StringIO()
    with progress_bar("importing", console=Console(file=piped, force_terminal=False)) as report:
        report(1, 2)
    assert piped.getvalue() == ""
