"""Which process is sending a campaign: a lease in `campaigns.runner` + `heartbeat_at`.

A runner takes the lease before touching the ledger and renews it as it goes, so that a
resume (or `campaigns run-due`) never competes with a live runner — that would turn its
in-flight rows into duplicates. A lease is free when nobody holds it, when its process
is gone (same host: the pid is checked), or when its heartbeat is older than
`stale_after` (another host).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.store.models import Campaign

STALE_AFTER = timedelta(minutes=2)
HEARTBEAT_EVERY = timedelta(seconds=10)


def new_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_alive(campaign: Campaign, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """Whether the process named in `campaign.runner` may still be sending it."""
    if not campaign.runner:
        return False
    host, pid = _parse(campaign.runner)
    if host == socket.gethostname() and pid is not None:
        return _pid_alive(pid)
    beat = campaign.heartbeat_at
    return beat is not None and now - beat < stale_after


def acquire(
    session: Session, campaign: Campaign, me: str, now: datetime, stale_after: timedelta
) -> bool:
    """Take the lease unless a live runner holds it (compare-and-set on `runner`)."""
    seen = campaign.runner
    if seen and seen != me and holder_alive(campaign, now, stale_after):
        return False
    holder = Campaign.runner.is_(None) if seen is None else Campaign.runner == seen
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, holder)
        .values(runner=me, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(campaign)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew(session: Session, campaign_id: int, me: str, now: datetime) -> bool:
    """Heartbeat; False when the lease was taken away (the runner must stop)."""
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.runner == me)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, campaign_id: int, me: str) -> None:
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.runner == me)
        .values(runner=None)
        .execution_options(synchronize_session=False)
    )


def _parse(runner: str) -> tuple[str, int | None]:
    host_pid, _, _nonce = runner.rpartition(":")
    host, _, pid = host_pid.rpartition(":")
    return host, int(pid) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except (OSError, IndexError):
        return True
