from __future__ import annotations

import time
from datetime import timedelta

import pytest
from pydantic import SecretStr

from dispatch.errors import TokenError, TokenExpired
from dispatch.tokens import _SIGNER, LEGACY, ListClaim, PersonClaim, Tokens

KEY = "k" * 32


def test_unsubscribe_token_round_trips() -> None:
    tokens = Tokens(SecretStr(KEY))
    token = tokens.unsubscribe(42, "morning-briefing", "key")
    assert tokens.verify_unsubscribe(token) == ListClaim(42, "morning-briefing", "key")
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in a URL path


def test_preferences_and_confirm_round_trip() -> None:
    tokens = Tokens(KEY)
    assert tokens.verify_preferences(tokens.preferences(7, "key")) == PersonClaim(7, "key")
    from_mail = tokens.verify_preferences(tokens.preferences(7, "key", 12))
    assert from_mail == PersonClaim(7, "key", 12)
    assert tokens.verify_confirm(tokens.confirm(7, "weekly-review", "key")) == ListClaim(
        7, "weekly-review", "key"
    )


def test_token_signed_with_another_key_is_rejected() -> None:
    forged = Tokens("another secret").unsubscribe(42, "morning-briefing", "key")
    with pytest.raises(TokenError, match="unsubscribe token is invalid"):
        Tokens(KEY).verify_unsubscribe(forged)


def test_tampered_payload_is_rejected() -> None:
    tokens = Tokens(KEY)
    genuine = tokens.unsubscribe(42, "morning-briefing", "key")
    other = tokens.unsubscribe(43, "morning-briefing", "key")
    spliced = other.split(".")[0] + "." + genuine.split(".")[1]
    with pytest.raises(TokenError):
        tokens.verify_unsubscribe(spliced)
    with pytest.raises(TokenError):
        tokens.verify_unsubscribe(genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"))
    with pytest.raises(TokenError):
        tokens.verify_unsubscribe("not-a-token")


def test_token_for_another_purpose_is_rejected() -> None:
    tokens = Tokens(KEY)
    confirm = tokens.confirm(42, "morning-briefing", "key")
    unsubscribe = tokens.unsubscribe(42, "morning-briefing", "key")
    with pytest.raises(TokenError):
        tokens.verify_unsubscribe(confirm)
    with pytest.raises(TokenError):
        tokens.verify_confirm(unsubscribe)
    with pytest.raises(TokenError):
        tokens.verify_preferences(unsubscribe)


def test_expired_confirm_token_raises_token_expired() -> None:
    tokens = Tokens(KEY)
    token = tokens.confirm(42, "morning-briefing", "key")
    time.sleep(1.1)
    with pytest.raises(TokenExpired, match="confirmation token expired"):
        tokens.verify_confirm(token, max_age=timedelta(seconds=0))
    assert tokens.verify_confirm(token, max_age=timedelta(hours=1)).subscriber_id == 42


def test_unsubscribe_tokens_do_not_expire() -> None:
    tokens = Tokens(KEY)
    token = tokens.unsubscribe(1, "a", "key")
    assert isinstance(TokenExpired("x"), TokenError)
    assert tokens.verify_unsubscribe(token).list_slug == "a"


def test_sample_subscriber_id_zero_never_verifies() -> None:
    tokens = Tokens(KEY)
    with pytest.raises(TokenError, match="unexpected content"):
        tokens.verify_unsubscribe(tokens.unsubscribe(0, "morning-briefing", "key"))


def test_empty_secret_is_refused() -> None:
    with pytest.raises(TokenError, match="secret key is empty"):
        Tokens("")


def legacy(tokens_secret: str, purpose: str, payload: list[object]) -> str:
    """A token as Dispatch made them before tokens carried the subscriber's key."""
    from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

    kind = URLSafeTimedSerializer if purpose == "confirm" else URLSafeSerializer
    signer = kind(tokens_secret, salt=f"dispatch.tokens.{purpose}", signer_kwargs=_SIGNER)
    return str(signer.dumps(payload))


def test_keyless_tokens_in_old_mail_still_verify_as_legacy_claims() -> None:
    tokens = Tokens(KEY)
    assert tokens.verify_unsubscribe(legacy(KEY, "unsubscribe", [4, "a"])) == ListClaim(
        4, "a", LEGACY
    )
    assert tokens.verify_preferences(legacy(KEY, "preferences", [4])) == PersonClaim(4, LEGACY)
    assert tokens.verify_confirm(legacy(KEY, "confirm", [4, "a"])).key == LEGACY


def test_a_token_is_never_signed_without_a_key_and_an_empty_key_never_verifies() -> None:
    tokens = Tokens(KEY)
    with pytest.raises(TokenError, match="token key"):
        tokens.unsubscribe(4, "a", "")
    with pytest.raises(TokenError, match="token key"):
        tokens.preferences(4, LEGACY)
    for payload in ([4, "a", ""], [4, "a", "k", "extra"], [4, "a", 7]):
        with pytest.raises(TokenError, match="unexpected content"):
            tokens.verify_unsubscribe(legacy(KEY, "unsubscribe", payload))
    for payload in ([4, ""], [4, "k", "12"], [4, "k", 12, 13], [4, "k", True]):
        with pytest.raises(TokenError, match="unexpected content"):
            tokens.verify_preferences(legacy(KEY, "preferences", payload))
