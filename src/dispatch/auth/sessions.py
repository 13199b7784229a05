"""Admin sessions as signed cookies: nothing is stored on the server, so any web process
can check any cookie.

The cookie holds `[editor id, session version, session id]` signed with the secret key
and a timestamp (itsdangerous `URLSafeTimedSerializer`, sha256, its own salt). It is
refused when forged, altered, older than `max_age` (12 hours by default) or dated in the
future; the caller then checks that the editor is active and that the version still
matches (a new password, or disabling the account, bumps it: every older cookie dies).
The session id is random per login and only binds the CSRF token to this session.

Attributes: `HttpOnly`, `SameSite=Lax`, `Path=/`; with an https `site.base_url` also
`Secure`, and the name takes the `__Host-` prefix (no subdomain can set or shadow it).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from pydantic import SecretStr
from starlette.responses import Response

from dispatch.errors import AuthError
from dispatch.store.types import utcnow

SALT = "dispatch.admin.session"
COOKIE = "dispatch_admin"
MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True)
class SessionClaim:
    editor_id: int
    version: int
    session_id: str


class _ClockSigner(TimestampSigner):
    """A TimestampSigner that reads the app's clock (so tests can age a cookie)."""

    def __init__(self, *args: Any, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class SessionCookies:
    def __init__(
        self,
        secret_key: SecretStr | str,
        *,
        secure: bool,
        max_age: timedelta = MAX_AGE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        secret = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        if not secret:
            raise AuthError("cannot sign session cookies: the secret key is empty")
        self.secure = secure
        self.max_age = max_age
        self.name = f"__Host-{COOKIE}" if secure else COOKIE
        self._serializer = URLSafeTimedSerializer(
            secret,
            salt=SALT,
            signer=_ClockSigner,
            signer_kwargs={"digest_method": hashlib.sha256, "clock": clock},
        )

    def issue(self, editor_id: int, version: int) -> tuple[str, SessionClaim]:
        """A new cookie value for a fresh login, and what it claims."""
        claim = SessionClaim(editor_id, version, secrets.token_urlsafe(16))
        value = self._serializer.dumps([claim.editor_id, claim.version, claim.session_id])
        return str(value), claim

    def read(self, value: str) -> SessionClaim:
        """What a cookie claims; AuthError when it is forged, altered, expired or malformed."""
        seconds = int(self.max_age.total_seconds())
        try:
            payload = self._serializer.loads(value, max_age=seconds)
        except SignatureExpired as exc:
            raise AuthError(f"session cookie expired (older than {self.max_age})") from exc
        except BadData as exc:
            raise AuthError("session cookie is invalid: forged or altered") from exc
        return _claim(payload)

    def set_on(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.name,
            value,
            max_age=int(self.max_age.total_seconds()),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear_on(self, response: Response) -> None:
        response.delete_cookie(
            self.name, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


def _claim(payload: Any) -> SessionClaim:
    valid = (
        isinstance(payload, list)
        and len(payload) == 3
        and all(isinstance(x, int) and not isinstance(x, bool) for x in payload[:2])
        and isinstance(payload[2], str)
        and payload[0] > 0
    )
    if not valid:
        raise AuthError("session cookie: unexpected content")
    return SessionClaim(payload[0], payload[1], payload[2])
