"""A 20,000-recipient campaign to the outbox (one fsynced .eml file per message).

    .venv/bin/python benchmarks/campaign_outbox.py [--recipients N] [--no-fsync]

Prints the seconds to freeze the recipients and to send, and messages per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import make_site, populate, send_campaign, start

from dispatch.delivery.outbox import OutboxSender
from dispatch.store.database import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--no-fsync", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = make_site(Path(folder))
        populate(settings, args.recipients)
        db = Database(settings.database)
        began = time.perf_counter()
        campaign_id = start(settings, db)
        frozen = time.perf_counter()
        sender = OutboxSender(settings.delivery.outbox.dir, fsync=not args.no_fsync)
        progress = send_campaign(settings, db, campaign_id, sender)
        done = time.perf_counter()
        files = sum(1 for _ in (settings.delivery.outbox.dir / str(campaign_id)).glob("*.eml"))
        assert progress.status == "sent" and progress.sent == args.recipients == files, progress
        seconds = done - frozen
        print(f"recipients       {args.recipients:,}")
        print(f"freeze           {frozen - began:.2f} s")
        print(f"send             {seconds:.2f} s  ({args.recipients / seconds:,.0f} msgs/s)")
        print(f"fsync            {'off' if args.no_fsync else 'on'}")
        db.dispose()


if __name__ == "__main__":
    main()
