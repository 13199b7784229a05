"""`delivery.limiter_storage` in Redis: the send rate holds across processes together.

Two processes, each with its own sender from `make_sender` (the configured rate and
storage), send 100 messages each at once under `rate_per_second = 50`. Alone each
would need 1 s; sharing one limit, the 200 take at least 3 s, and no second holds
more than 50. Fails (never skips) when Redis is down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from limits.storage import storage_from_string

from conftest import write_config

STORAGE = "redis://127.0.0.1:6379/1"
RATE, EACH = 50, 100
CHILD = """
import sys, time
from pathlib import Path
from dispatch import config
from dispatch.delivery.factory import make_sender
from support.outgoing import campaign_message, envelopes
sender = make_sender(config.load(Path(sys.argv[1])), "memory")
time.sleep(max(float(sys.argv[2]) - time.time(), 0))
for result in sender.send(campaign_message(), envelopes(int(sys.argv[3]))):
    print(time.time(), flush=True)
"""


def test_two_processes_share_one_rate(tmp_path: Path) -> None:
    storage = storage_from_string(STORAGE)
    assert storage.check(), f"Redis is not answering at {STORAGE}"
    storage.reset()
    path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'd.db'}",
        {
            r"^rate_per_second = 0 .*$": f"rate_per_second = {RATE}",
            r"^limiter_storage = .*$": f'limiter_storage = "{STORAGE}"',
        },
    )
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parent)}
    start = time.time() + 3.0  # both children are up by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(start), str(EACH)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    stamps = sorted(
        float(line) for child in children for line in child.communicate(timeout=60)[0].split()
    )
    assert [child.returncode for child in children] == [0, 0], "a child failed (see stderr)"
    assert len(stamps) == 2 * EACH
    elapsed = stamps[-1] - start
    busiest = max(sum(1 for s in stamps if t <= s < t + 0.98) for t in stamps)
    print(
        f"\nshared limit {RATE}/s: {2 * EACH} messages in {elapsed:.2f} s, busiest second {busiest}"
    )
    assert elapsed >= (2 * EACH - RATE) / RATE * 0.95  # one limit for both, not one each
    assert busiest <= RATE
