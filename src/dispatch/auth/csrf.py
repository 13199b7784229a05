"""CSRF tokens for the admin: one per session, an HMAC of the session id; before login,
one per browser, an HMAC of the random value of the short-lived login cookie.

Nothing is stored: the token is `HMAC-SHA256(key, session id)` with a key derived from
the secret key for this purpose alone, so only this server can make it and it dies with
the session. Pages put it in every state-changing form as a hidden `csrf_token` field
(and in the `X-CSRF-Token` header for scripted requests, e.g. htmx); every POST, PUT,
PATCH and DELETE authenticated by the session cookie must present it (see `deps`).
`SameSite=Lax` already keeps other sites' forms from sending the cookie; the token also
covers browsers that ignore SameSite and same-site attackers (another subdomain).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr
from starlette.requests import Request

from dispatch.errors import AuthError

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Csrf:
    def __init__(self, secret_key: SecretStr | str) -> None:
        secret = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        if not secret:
            raise AuthError("cannot make CSRF tokens: the secret key is empty")
        self._key = hmac.new(secret.encode(), b"dispatch.admin.csrf", hashlib.sha256).digest()

    def token(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def valid(self, session_id: str, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(self.token(session_id), presented)

    def login_token(self, nonce: str) -> str:
        """The login form's token: bound to the pre-login cookie's random `nonce`, so a
        foreign page cannot log a browser in to the attacker's account (login CSRF)."""
        return self.token(f"login:{nonce}")

    def login_valid(self, nonce: str | None, presented: str | None) -> bool:
        return bool(nonce) and self.valid(f"login:{nonce}", presented)


async def presented_token(request: Request) -> str | None:
    """The token a request carries: the header, else the form field (forms only)."""
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        return None
    form = await request.form()  # cached by Starlette: the endpoint reads the same form
    value = form.get(FIELD)
    return value if isinstance(value, str) else None
