"""Signed tokens for the links in emails, with `itsdangerous`.

Each purpose has its own salt, so a token issued for one purpose never verifies for
another. Unsubscribe and preferences tokens never expire (RFC 8058 one-click links
must keep working in old mail); confirmation tokens expire after `CONFIRM_MAX_AGE`.

Every token carries the subscriber's id *and* their `token_key` (a random per-person
key, `subscribers.token_key`). The signature proves the server made it; the key proves
it was made for the person now holding that id: `optin.link_holder` compares it with
the stored key, so once a person is erased (their key with them) their links open
nothing, whoever is stored next. Tokens made before keys existed (two fields, or one
for preferences) verify with `key == LEGACY`; only people stored before migration
0015a (`subscribers.legacy_links`) accept them.
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


LEGACY = ""  # the key of a token made before tokens carried one (migration 0015a)


@dataclass(frozen=True)
class ListClaim:
    """What an unsubscribe or confirmation token names: one subscriber on one list (a
    confirmation token may name more: one link for every list chosen at one sign-up)."""

    subscriber_id: int
    list_slug: str
    key: str = LEGACY
    campaign_id: int | None = None  # unsubscribe links in campaign mail name the campaign
    more: tuple[str, ...] = ()  # further lists a confirmation link confirms

    @property
    def list_slugs(self) -> tuple[str, ...]:
        return (self.list_slug, *self.more)


@dataclass(frozen=True)
class PersonClaim:
    """What a preferences token names: one subscriber."""

    subscriber_id: int
    key: str = LEGACY
    campaign_id: int | None = None  # preferences links in campaign mail name the campaign


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
        self, subscriber_id: int, list_slug: str, key: str, campaign_id: int | None = None
    ) -> str:
        payload: list[Any] = [subscriber_id, list_slug, _key(key)]
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

    def preferences(self, subscriber_id: int, key: str, campaign_id: int | None = None) -> str:
        """[id, key], or [id, key, campaign] in a campaign's mail: lists left on the page
        count as unsubscribes from that campaign."""
        payload: list[Any] = [subscriber_id, _key(key)]
        if campaign_id is not None:
            payload.append(campaign_id)
        return str(self._preferences.dumps(payload))

    def confirm(self, subscriber_id: int, list_slug: str, key: str, *more: str) -> str:
        """One link confirming `list_slug` and the `more` lists chosen with it."""
        return str(self._confirm.dumps([subscriber_id, list_slug, _key(key), *more]))

    def verify_unsubscribe(self, token: str) -> ListClaim:
        return _list_claim(_load(self._unsubscribe, token, "unsubscribe"), "unsubscribe")

    def verify_preferences(self, token: str) -> PersonClaim:
        payload = _load(self._preferences, token, "preferences")
        if not (isinstance(payload, list) and 1 <= len(payload) <= 3 and _is_id(payload[0])):
            raise TokenError("preferences token: unexpected content")
        campaign_id = None
        if len(payload) == 3:
            if not _is_id(payload[2]):
                raise TokenError("preferences token: unexpected content")
            campaign_id = int(payload[2])
        key = _claimed_key(payload[1:2], "preferences")
        return PersonClaim(int(payload[0]), key, campaign_id)

    def verify_confirm(self, token: str, max_age: timedelta = CONFIRM_MAX_AGE) -> ListClaim:
        seconds = int(max_age.total_seconds())
        payload = _load(self._confirm, token, "confirmation", seconds)
        return _confirm_claim(payload)


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


def _key(key: str) -> str:
    if not key:  # an empty key would read back as a legacy token
        raise TokenError("cannot sign a link without the subscriber's token key")
    return key


def _list_claim(payload: Any, purpose: str) -> ListClaim:
    if not (
        isinstance(payload, list)
        and 2 <= len(payload) <= 4
        and _is_id(payload[0])
        and isinstance(payload[1], str)
    ):
        raise TokenError(f"{purpose} token: unexpected content")
    rest = payload[2:]
    campaign_id = None
    if len(rest) == 2:  # [id, slug, key, campaign]: an unsubscribe link from a campaign
        if not _is_id(rest[1]):
            raise TokenError(f"{purpose} token: unexpected content")
        campaign_id = int(rest[1])
        rest = rest[:1]
    return ListClaim(int(payload[0]), payload[1], _claimed_key(rest, purpose), campaign_id)


def _claimed_key(rest: list[Any], purpose: str) -> str:
    """The key after the fixed fields: LEGACY when there is none (an old token)."""
    if not rest:
        return LEGACY
    if len(rest) == 1 and isinstance(rest[0], str) and rest[0]:
        return rest[0]
    raise TokenError(f"{purpose} token: unexpected content")


def _confirm_claim(payload: Any) -> ListClaim:
    """[id, slug, key, *more slugs]; [id, slug] from before keys (LEGACY)."""
    if not (
        isinstance(payload, list)
        and 2 <= len(payload) <= MAX_LISTS + 2
        and _is_id(payload[0])
        and all(isinstance(slug, str) and slug for slug in payload[1:])
    ):
        raise TokenError("confirmation token: unexpected content")
    key = _claimed_key(payload[2:3], "confirmation")
    return ListClaim(int(payload[0]), payload[1], key, None, tuple(payload[3:]))


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
