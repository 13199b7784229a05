"""A Rich progress bar for long CLI work (imports, exports), on a terminal only.

`progress_bar(label, unit)` yields a callback `(done, total)`; when stderr is not a
terminal (a pipe, a log file, CI, tests) the callback does nothing, so output that
scripts read stays exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dispatch.cli.context import errors

Report = Callable[[int, int], None]


@contextmanager
def progress_bar(label: str, unit: str = "rows", console: Console = errors) -> Iterator[Report]:
    if not console.is_terminal:
        yield lambda done, total: None
        return
    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    columns = [TextColumn(label), BarColumn(), TaskProgressColumn(), amount]
    with Progress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task(label, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield report
