"""What the admin and the API need to tell who is asking, built once per web app.

`auth_services(request)` builds it on first use from `app.state.settings` and
`app.state.clock` and keeps it on `app.state.auth`; tests (or an embedding program)
may put their own there first, e.g. with a cheap password hasher or a sleep that only
records how long it was asked to wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from limits.storage import Storage
from starlette.requests import Request

from dispatch.auth.csrf import Csrf
from dispatch.auth.lockout import FailureCounter, LockoutPolicy
from dispatch.auth.login import Authenticator
from dispatch.auth.passwords import Passwords
from dispatch.auth.sessions import SessionCookies
from dispatch.config import Settings
from dispatch.limits_store import app_limits_storage
from dispatch.store.types import utcnow

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class AuthServices:
    passwords: Passwords
    authenticator: Authenticator
    sessions: SessionCookies
    csrf: Csrf
    sleep: Sleep
    clock: Callable[[], datetime]

    @classmethod
    def build(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        *,
        hasher: PasswordHasher | None = None,
        policy: LockoutPolicy | None = None,
        storage: Storage | None = None,
        sleep: Sleep = asyncio.sleep,
        max_age: timedelta | None = None,  # default: web.session_hours
    ) -> AuthServices:
        web = settings.web
        policy = policy or LockoutPolicy(
            max_failures=web.login_failures_per_source,
            max_failures_per_ip=web.login_failures_per_ip,
            lock_minutes=web.login_window_minutes,
        )
        max_age = max_age or timedelta(hours=web.session_hours)
        passwords = Passwords(hasher)
        counter = FailureCounter(policy, storage=storage)
        secure = settings.site.base_url.startswith("https://")
        secret = settings.secret_key
        return cls(
            passwords=passwords,
            authenticator=Authenticator(passwords, policy, counter, clock),
            sessions=SessionCookies(secret, secure=secure, max_age=max_age, clock=clock),
            csrf=Csrf(secret),
            sleep=sleep,
            clock=clock,
        )


def auth_services(request: Request) -> AuthServices:
    state = request.app.state
    found: AuthServices | None = getattr(state, "auth", None)
    if found is None:
        found = AuthServices.build(state.settings, state.clock, storage=app_limits_storage(state))
        state.auth = found
    return found
