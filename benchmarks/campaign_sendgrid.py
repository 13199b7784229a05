"""A 100,000-recipient campaign through the SendGrid backend, against the loopback
stand-in of SendGrid's v3 API (`tests/support/sendgrid_server.py`, in a thread).

    .venv/bin/python benchmarks/campaign_sendgrid.py [--recipients N] [--batch-size B]

The real campaign runner sends with `make_sender` (backend "sendgrid"); `--batch-size`
is `delivery.batch_size` (default 1000, the most it allows and SendGrid's limit of
personalizations per request). Prints the requests made, personalizations per request
and the seconds; checks that no request carries more than 1000 personalizations, that
every address was sent to exactly once, and that every request went to /v3/mail/send
with the API key.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from campaign_common import make_site, populate, send_campaign, start

from dispatch.delivery.factory import make_sender
from dispatch.delivery.sendgrid import MAX_PERSONALIZATIONS, SendgridSender
from dispatch.store.database import Database
from support.sendgrid_server import Request, SendgridServer

API_KEY = "SG.benchmark-key"


def check(requests: list[Request], expected: list[str]) -> list[int]:
    """Personalizations in each request; SystemExit on anything wrong."""
    sizes: list[int] = []
    addresses: Counter[str] = Counter()
    for request in requests:
        if request.path != "/v3/mail/send":
            raise SystemExit(f"request to {request.path}, not /v3/mail/send")
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            raise SystemExit("a request without the API key")
        personalizations = request.json()["personalizations"]
        sizes.append(len(personalizations))
        addresses.update(to["email"] for p in personalizations for to in p["to"])
    if max(sizes) > MAX_PERSONALIZATIONS:
        raise SystemExit(f"a request with {max(sizes)} personalizations (limit 1000)")
    twice = sum(1 for count in addresses.values() if count > 1)
    if twice or sorted(addresses) != sorted(expected):
        missing = len(set(expected) - set(addresses))
        raise SystemExit(
            f"{len(addresses):,} addresses sent to ({twice:,} more than once, {missing:,} "
            f"missing); expected {len(expected):,} once each"
        )
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    os.environ["SENDGRID_API_KEY"] = API_KEY
    with SendgridServer() as server, tempfile.TemporaryDirectory() as folder:
        settings = make_site(
            Path(folder),
            {
                r'^backend = "outbox".*$': 'backend = "sendgrid"',
                r'^host = "https://api\.sendgrid\.com".*$': f'host = "{server.url}"',
                r"^batch_size = .*$": f"batch_size = {args.batch_size}",
            },
        )
        populate(settings, args.recipients)
        db = Database(settings.database)
        began = time.perf_counter()
        campaign_id = start(settings, db)
        frozen = time.perf_counter()
        sender = make_sender(settings)
        assert isinstance(sender, SendgridSender), sender
        progress = send_campaign(settings, db, campaign_id, sender)
        sender.close()
        seconds = time.perf_counter() - frozen
        db.dispose()
        assert progress.status == "sent" and progress.sent == args.recipients, progress
        requests = list(server.requests)
    sizes = check(requests, [f"reader{i}@example.com" for i in range(args.recipients)])
    n = args.recipients
    body = sum(len(r.body) for r in requests) / len(requests)
    print(f"recipients       {n:,}, batch size {args.batch_size}")
    print(f"freeze           {frozen - began:.2f} s")
    print(f"send             {seconds:.2f} s  ({n / seconds:,.0f} recipients/s)")
    print(f"requests         {len(requests):,} ({body / 1024:,.0f} KiB of JSON each on average)")
    print(f"personalizations max {max(sizes):,} a request (limit {MAX_PERSONALIZATIONS:,})")
    print("check            every address in exactly one personalization")


if __name__ == "__main__":
    main()
