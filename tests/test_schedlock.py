"""One scheduler per database: the second one exits with a clear message naming the
first; the lock goes with its process, however it ends (SQLite file lock, PostgreSQL
advisory lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dispatch import schedlock
from dispatch.errors import SchedulerLocked
from dispatch.store.database import Database

MESSAGE = "another scheduler already runs"


def dispatch(config_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dispatch", "--config", str(config_path), *args]


def env() -> dict[str, str]:
    return os.environ | {"DISPATCH_SECRET_KEY": "lock-test-secret"}


def test_a_second_lock_is_refused_naming_the_holder(db: Database) -> None:
    first = schedlock.acquire(db.url)
    try:
        with pytest.raises(SchedulerLocked, match=MESSAGE) as refused:
            schedlock.acquire(db.url)
        assert f":{os.getpid()} since " in str(refused.value)
    finally:
        first.release()
    schedlock.acquire(db.url).release()  # free again once released


def test_a_second_scheduler_process_exits_with_the_message(db: Database, config_path: Path) -> None:
    held = schedlock.acquire(db.url)
    try:
        second = subprocess.run(
            dispatch(config_path, "scheduler"),
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        held.release()
    assert second.returncode == 2
    assert MESSAGE in second.stderr and f":{os.getpid()} since " in second.stderr


def test_the_lock_goes_with_a_killed_scheduler_and_sigterm_exits_cleanly(
    db: Database, config_path: Path
) -> None:
    child = running_scheduler(config_path)
    with pytest.raises(SchedulerLocked, match=f":{child.pid} since "):
        schedlock.acquire(db.url)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)  # reaps it and closes its pipes
    schedlock.acquire(db.url).release()
    child = running_scheduler(config_path)
    child.send_signal(signal.SIGTERM)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "event=scheduler.stopped clean=True" in err
    schedlock.acquire(db.url).release()


def running_scheduler(config_path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        dispatch(config_path, "scheduler"),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    line = child.stdout.readline()
    while "Scheduler running" not in line:
        assert line and time.monotonic() < deadline, "the scheduler did not start"
        line = child.stdout.readline()
    return child
