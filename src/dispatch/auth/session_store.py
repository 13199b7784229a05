"""The server-side record of admin sessions (`editor_sessions`): a signed cookie opens the
admin only while its row exists and has not expired.

Logging out deletes the row, so the cookie is dead at once, in every web process, even
if someone copied it; a new password, disabling the account and "log out everywhere"
delete all of the editor's rows (`end_all`). The row's id is the sha256 of the random
session id inside the cookie: the table alone (a backup, a leaked dump) opens nothing.
`last_seen_at` is refreshed at most once a minute, so a busy admin page is not one
write per request.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.store.models import EditorSession

TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_MAX = 200


def row_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(
    session: Session,
    editor_id: int,
    session_id: str,
    now: datetime,
    max_age: timedelta,
    *,
    ip: str = "",
    user_agent: str = "",
) -> None:
    """Record a fresh login (the caller commits)."""
    session.add(
        EditorSession(
            id=row_id(session_id),
            editor_id=editor_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + max_age,
            ip=ip[:64],
            user_agent=user_agent[:USER_AGENT_MAX],
        )
    )


def is_open(session: Session, editor_id: int, session_id: str, now: datetime) -> bool:
    """Whether the cookie's session is still recorded for this editor and not expired."""
    row = session.get(EditorSession, row_id(session_id))
    if row is None or row.editor_id != editor_id or row.expires_at <= now:
        return False
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return True


def end_session(session: Session, session_id: str) -> int:
    """Log one session out; how many rows went (0 when it had already ended)."""
    result = session.execute(delete(EditorSession).where(EditorSession.id == row_id(session_id)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_all(session: Session, editor_id: int) -> int:
    """Log an editor out everywhere; how many sessions ended."""
    result = session.execute(delete(EditorSession).where(EditorSession.editor_id == editor_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_sessions(session: Session, editor_id: int, now: datetime) -> list[EditorSession]:
    return list(
        session.scalars(
            select(EditorSession)
            .where(EditorSession.editor_id == editor_id, EditorSession.expires_at > now)
            .order_by(EditorSession.created_at)
        )
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Forget sessions past their expiry (they no longer open anything anyway)."""
    result = session.execute(delete(EditorSession).where(EditorSession.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
