"""Peak RSS of a campaign to a sender that builds each message and throws it away,
for 100,000 vs 1,000,000 recipients (SQLite), each run in a fresh child process.

    .venv/bin/python benchmarks/campaign_memory_rss.py [--small N] [--large N]

The store is filled in SQL by the parent; the child only freezes the recipients and
runs the campaign, then reports its own peak RSS (getrusage). Aim: flat, < 1.3x apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import make_site, populate

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from collections.abc import Sequence
from campaign_common import send_campaign, start
from dispatch import config
from dispatch.delivery.base import Admit, Envelope, Outcome, OutgoingMessage, SendResult
from dispatch.store.database import Database


class Discard:
    name = "discard"
    unit = 1
    concurrency = 2
    def deliver(self, message: OutgoingMessage, envelopes: Sequence[Envelope],
                admit: Admit) -> list[SendResult]:
        for envelope in envelopes:
            message.as_bytes(envelope)
        admit(envelopes)
        return [SendResult(e.delivery_id, Outcome.SENT, provider_message_id="x")
                for e in envelopes]
    def close(self) -> None:
        pass


from pathlib import Path
settings = config.load(Path({config!r}))
db = Database(settings.database)
began = time.perf_counter()
campaign_id = start(settings, db)
frozen = time.perf_counter()
progress = send_campaign(settings, db, campaign_id, Discard())
done = time.perf_counter()
assert progress.status == "sent", progress
print(json.dumps({{"sent": progress.sent, "freeze": frozen - began, "send": done - frozen,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def measure(recipients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = make_site(Path(folder))
        began = time.perf_counter()
        populate(settings, recipients)
        print(f"  {recipients:,} subscribers generated in {time.perf_counter() - began:.1f} s")
        code = CHILD.format(bench=str(Path(__file__).parent), config=str(settings.path))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"child failed:\n{out.stderr}")
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["sent"] == recipients, result
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    results = {}
    for size in (args.small, args.large):
        result = measure(size)
        results[size] = result
        print(
            f"{size:>10,} recipients: peak RSS {result['rss_kb'] / 1024:6.1f} MB, "
            f"freeze {result['freeze']:.1f} s, send {result['send']:.1f} s "
            f"({size / result['send']:,.0f} msgs/s)"
        )
    ratio = results[args.large]["rss_kb"] / results[args.small]["rss_kb"]
    print(f"peak RSS ratio {args.large:,} / {args.small:,}: {ratio:.2f}x (aim < 1.3x)")


if __name__ == "__main__":
    main()
