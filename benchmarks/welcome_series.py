"""Benchmark the welcome series' run (`campaigns.welcome.run_series`) on SQLite.

    .venv/bin/python benchmarks/welcome_series.py [--subscribers N]

N people confirmed an hour ago on a list whose built-in welcome step was first seen a
day ago: one run gives them the step (campaigns of 5,000 people each: welcome_sends rows,
rendering, ledger rows; nothing is sent), then the scheduler's next run finds nobody
due. Prints both times; the reference for the idle run is the job's interval
(`scheduler.welcome_seconds`, 60 s): a run must take a small part of it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import make_site, populate

from dispatch.campaigns.welcome import run_series
from dispatch.store.database import Database
from dispatch.store.types import utcnow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = make_site(Path(folder))
        populate(settings, args.subscribers)
        db = Database(settings.database)
        now = utcnow()
        run_series(db, settings, now - timedelta(days=1))  # the step first seen
        started = time.perf_counter()
        campaigns = run_series(db, settings, now + timedelta(hours=1))
        enqueue = time.perf_counter() - started
        started = time.perf_counter()
        again = run_series(db, settings, now + timedelta(hours=2))
        idle = time.perf_counter() - started
        db.dispose()
    interval = settings.scheduler.welcome_seconds
    print(f"subscribers due:              {args.subscribers:>10,}")
    print(
        f"step given (run):             {enqueue:>10.2f} s  ({len(campaigns)} campaigns, "
        f"{args.subscribers / enqueue:,.0f} people/s)"
    )
    print(
        f"next run, nobody due:         {idle:>10.3f} s  (job interval {interval:.0f} s; "
        f"{len(again)} campaigns)"
    )


if __name__ == "__main__":
    main()
