"""`delivery.limiter_storage` in Redis: the send rate holds across processes together.

Two processes, each with the `Pacer` the engine builds from the settings (the configured
rate and storage, the key `dispatch:<backend>`), hand 100 messages each to a memory
sender at once under `rate_per_second = 50`, asking `pacer.wait(1)` in `admit` just
before each hand-over as the engine does. Alone each would need 1 s; sharing one limit,
the 200 take at least 3 s, and no second holds more than 50. Fails (never skips) when
Redis is down.

Each reservation is known only to lie between the times read just before and just after
`wait` (a loaded machine can stretch that interval), so "no 51 in any second" is checked
as: any 51 of those intervals span at least a second. Load can only widen the intervals,
never make the check fail.
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
from dispatch.delivery.memory import MemorySender
from dispatch.delivery.pacing import Pacer
from support.outgoing import campaign_message, envelopes
settings = config.load(Path(sys.argv[1]))
pacer = Pacer.from_settings(settings, "dispatch:" + settings.delivery.backend)
sender, message = MemorySender(), campaign_message()

granted = []

def admit(batch):
    before = time.time()
    assert pacer.wait(len(batch))
    granted.append((before, time.time()))  # the reservation was made in between

time.sleep(max(float(sys.argv[2]) - time.time(), 0))
for envelope in envelopes(int(sys.argv[3])):
    [result] = sender.deliver(message, [envelope], admit)
    assert result.outcome == "sent", result
    print(*granted[-1], flush=True)
"""


def tightest_span(grants: list[tuple[float, float]], count: int) -> float:
    """The shortest time that `count` of the (before, after) intervals can lie within."""
    best = float("inf")
    for start, _ in grants:
        ends = sorted(after for before, after in grants if before >= start)
        if len(ends) >= count:
            best = min(best, ends[count - 1] - start)
    return best


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
    grants = sorted(
        (float(before), float(after))
        for child in children
        for before, after in (
            line.split() for line in child.communicate(timeout=60)[0].splitlines()
        )
    )
    assert [child.returncode for child in children] == [0, 0], "a child failed (see stderr)"
    assert len(grants) == 2 * EACH
    elapsed = max(after for _, after in grants) - start
    span = tightest_span(grants, RATE + 1)
    print(f"\nshared limit {RATE}/s: {2 * EACH} messages in {elapsed:.2f} s, ", end="")
    print(f"any {RATE + 1} in {span:.3f} s at the least")
    assert elapsed >= (2 * EACH - RATE) / RATE * 0.95  # one limit for both, not one each
    assert span >= 0.99  # never more than RATE in any second (float noise aside)
