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
_SIGNER = {"digest_method": hashlib.sha256}


@dataclass(frozen=True)
class ListClaim:
    """What an unsubscribe or confirmation token names: one subscriber on one list."""

    subscriber_id: int
    list_slug: str
    campaign_id: int | None = None  # unsubscribe links in campaign mail name the campaign


@dataclass(frozen=True)
class ClickClaim:
    """What a click token names: a campaign's link, and its reader when tracked per person."""

    campaign_id: int
    position: int
    subscriber_id: int | None = None


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
        self._click = URLSafeSerializer(secret, salt=f"{SALT_PREFIX}click", signer_kwargs=_SIGNER)

    def unsubscribe(
        self, subscriber_id: int, list_slug: str, campaign_id: int | None = None
    ) -> str:
        payload: list[Any] = [subscriber_id, list_slug]
        if campaign_id:
            payload.append(campaign_id)
        return str(self._unsubscribe.dumps(payload))

    def click(self, campaign_id: int, position: int, subscriber_id: int | None = None) -> str:
        """A link's redirect token; names the reader only for per-person tracking."""
        payload = [campaign_id, position] + ([subscriber_id] if subscriber_id else [])
        return str(self._click.dumps(payload))

    def verify_click(self, token: str) -> ClickClaim:
        payload = _load(self._click, token, "click")
        if not (
            isinstance(payload, list)
            and len(payload) in (2, 3)
            and all(_is_id(value) for value in payload[:1] + payload[2:])
            and isinstance(payload[1], int)
            and not isinstance(payload[1], bool)
            and payload[1] >= 0
        ):
            raise TokenError("click token: unexpected content")
        return ClickClaim(*(int(value) for value in payload))

    def preferences(self, subscriber_id: int) -> str:
        return str(self._preferences.dumps([subscriber_id]))

    def confirm(self, subscriber_id: int, list_slug: str) -> str:
        return str(self._confirm.dumps([subscriber_id, list_slug]))

    def verify_unsubscribe(self, token: str) -> ListClaim:
        return _list_claim(_load(self._unsubscribe, token, "unsubscribe"), "unsubscribe")

    def verify_preferences(self, token: str) -> int:
        payload = _load(self._preferences, token, "preferences")
        if not (isinstance(payload, list) and len(payload) == 1 and _is_id(payload[0])):
            raise TokenError("preferences token: unexpected content")
        return int(payload[0])

    def verify_confirm(self, token: str, max_age: timedelta = CONFIRM_MAX_AGE) -> ListClaim:
        seconds = int(max_age.total_seconds())
        return _list_claim(_load(self._confirm, token, "confirmation", seconds), "confirmation")


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


def _list_claim(payload: Any, purpose: str) -> ListClaim:
    if not (
        isinstance(payload, list)
        and len(payload) in (2, 3)
        and _is_id(payload[0])
        and isinstance(payload[1], str)
        and all(_is_id(value) for value in payload[2:])
    ):
        raise TokenError(f"{purpose} token: unexpected content")
    return ListClaim(int(payload[0]), payload[1], int(payload[2]) if len(payload) == 3 else None)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
