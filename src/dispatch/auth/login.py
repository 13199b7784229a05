"""One login attempt: email + password + client IP → an outcome the login page shows.

Every refusal says the same thing ("wrong email or password") whether the address is
unknown, the account disabled or the password wrong, and takes as long (a dummy hash is
verified when there is no account). An address that failed too often from this IP, or an
IP that failed too often, gets "too many failed logins, try again in N minutes" (see
`lockout`); the account itself is never locked, so strangers cannot shut its editor out.
A success resets the account's counters, records the time, and re-hashes the password
when the hasher's parameters changed since it was stored.

The attempt runs inside the caller's transaction and never raises for a refusal, so the
failure counters it updates are committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.editors import login_key
from dispatch.auth.lockout import FailureCounter, LockoutPolicy
from dispatch.auth.passwords import MAX_LENGTH, Passwords
from dispatch.store.models import Editor
from dispatch.store.types import utcnow

WRONG = "Wrong email or password."


@dataclass(frozen=True)
class LoginOutcome:
    editor_id: int | None = None  # set when the login succeeded
    session_version: int = 0
    error: str | None = None  # what the login page says
    retry_after: int | None = None  # seconds, when locked out
    delay: float = 0.0  # seconds to wait before answering (failures are slowed)

    @property
    def ok(self) -> bool:
        return self.editor_id is not None


def locked_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed logins. Try again in {minutes} {unit}."


class Authenticator:
    def __init__(
        self,
        passwords: Passwords,
        policy: LockoutPolicy,
        counter: FailureCounter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.passwords = passwords
        self.policy = policy
        self.counter = counter
        self.clock = clock

    def attempt(self, session: Session, email: str, password: str, ip: str) -> LoginOutcome:
        now = self.clock()
        key = login_key(email)
        editor = session.scalar(select(Editor).where(Editor.email == key)) if key else None
        wait = self.counter.blocked_for(ip, key)
        if wait is not None:
            return LoginOutcome(error=locked_message(wait), retry_after=wait)
        usable = editor if editor is not None and editor.active else None
        if usable is not None and self.passwords.verify(usable.password_hash, password):
            return self._succeed(usable, password, key, ip, now)
        if usable is None:
            self.passwords.waste_time(password[:MAX_LENGTH])
        return self._fail(usable, key, ip)

    def _succeed(
        self, editor: Editor, password: str, key: str, ip: str, now: datetime
    ) -> LoginOutcome:
        editor.failed_logins = 0
        editor.locked_until = None  # a lock from before per-source lock-outs
        editor.last_login_at = now
        if self.passwords.needs_rehash(editor.password_hash):
            editor.password_hash = self.passwords.hasher.hash(password)
        self.counter.forget(ip, key)
        return LoginOutcome(editor_id=editor.id, session_version=editor.session_version)

    def _fail(self, editor: Editor | None, key: str, ip: str) -> LoginOutcome:
        failures = self.counter.record(ip, key)
        if editor is not None:
            editor.failed_logins += 1  # shown to admins; never locks the account
        delay = self.policy.delay(failures)
        wait = self.counter.blocked_for(ip, key)
        if wait is not None:
            return LoginOutcome(error=locked_message(wait), retry_after=wait, delay=delay)
        return LoginOutcome(error=WRONG, delay=delay)
