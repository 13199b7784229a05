"""Signed tokens for the links in emails, with `itsdangerous`.

Each purpose has its own salt, so a token issued for one purpose never verifies for
another. Unsubscribe and preferences tokens never expire (RFC 8058 one-click links
must keep working in old mail); confirmation tokens expire.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from pydantic import SecretStr

from dispatch.errors import TokenError, TokenExpired

SALT_PREFIX = "dispatch.tokens."
CONFIRM_MAX_AGE = timedelta(days=7)
MAX_LISTS = 100  # lists one confirmation token may name
_SIGNER = {"digest_method": hashlib.sha256}


@dataclass(frozen=True)
class ListClaim:
    """What an unsubscribe or confirmation token names: one subscriber on one list (a
    confirmation token may name more: one link for every list chosen at one sign-up)."""

    subscriber_id: int
    list_slug: str
    more: tuple[str, ...] = ()

    @property
    def list_slugs(self) -> tuple[str, ...]:
        return (self.list_slug, *self.more)


class Tokens:
    """Issues and verifies every kind of link token with one secret key."""

    def __init__(self, secret_key: SecretStr | str) -> None:
        secret = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        if not secret:
            raise TokenError("cannot sign tokens: the secret key is empty")
        self._unsubscribe = URLSafeSerializer(
            secret, salt=f"{SALT_PREFIX}unsubscribe", signer_kwargs=_SIGNER
        )
        self._preferences = URLSafeSerializer(
            secret, salt=f"{SALT_PREFIX}preferences", signer_kwargs=_SIGNER
        )
        self._confirm = URLSafeTimedSerializer(
            secret, salt=f"{SALT_PREFIX}confirm", signer_kwargs=_SIGNER
        )

    def unsubscribe(self, subscriber_id: int, list_slug: str) -> str:
        return str(self._unsubscribe.dumps([subscriber_id, list_slug]))

    def preferences(self, subscriber_id: int) -> str:
        return str(self._preferences.dumps([subscriber_id]))

    def confirm(self, subscriber_id: int, list_slug: str, *more: str) -> str:
        """One link confirming `list_slug` and the `more` lists chosen with it."""
        return str(self._confirm.dumps([subscriber_id, list_slug, *more]))

    def verify_unsubscribe(self, token: str) -> ListClaim:
        return _list_claim(_load(self._unsubscribe, token, "unsubscribe"), "unsubscribe")

    def verify_preferences(self, token: str) -> int:
        payload = _load(self._preferences, token, "preferences")
        if not (isinstance(payload, list) and len(payload) == 1 and _is_id(payload[0])):
            raise TokenError("preferences token: unexpected content")
        return int(payload[0])

    def verify_confirm(self, token: str, max_age: timedelta = CONFIRM_MAX_AGE) -> ListClaim:
        seconds = int(max_age.total_seconds())
        payload = _load(self._confirm, token, "confirmation", seconds)
        return _list_claim(payload, "confirmation", several=True)


def _load(
    serializer: URLSafeSerializer | URLSafeTimedSerializer,
    token: str,
    purpose: str,
    max_age: int | None = None,
) -> Any:
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            return serializer.loads(token, max_age=max_age)
        return serializer.loads(token)
    except SignatureExpired as exc:
        raise TokenExpired(f"{purpose} token expired (older than {max_age} seconds)") from exc
    except BadData as exc:
        raise TokenError(
            f"{purpose} token is invalid: forged, altered or for another purpose"
        ) from exc


def _list_claim(payload: Any, purpose: str, several: bool = False) -> ListClaim:
    if not (
        isinstance(payload, list)
        and (len(payload) == 2 or (several and 2 <= len(payload) <= MAX_LISTS + 1))
        and _is_id(payload[0])
        and all(isinstance(slug, str) for slug in payload[1:])
    ):
        raise TokenError(f"{purpose} token: unexpected content")
    return ListClaim(int(payload[0]), payload[1], tuple(payload[2:]))


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
