from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.responses import Response

from dispatch.auth.csrf import Csrf
from dispatch.auth.sessions import COOKIE, SessionClaim, SessionCookies
from dispatch.errors import AuthError
from support.campaigns import FakeClock

KEY = "s" * 32


def test_a_cookie_round_trips() -> None:
    cookies = SessionCookies(KEY, secure=False)
    value, claim = cookies.issue(7, 3)
    assert cookies.read(value) == claim == SessionClaim(7, 3, claim.session_id)
    assert len(claim.session_id) >= 20


def test_each_login_gets_its_own_session_id() -> None:
    cookies = SessionCookies(KEY, secure=False)
    assert cookies.issue(7, 1)[1].session_id != cookies.issue(7, 1)[1].session_id


def test_a_cookie_signed_with_another_key_is_refused() -> None:
    forged, _ = SessionCookies("another key", secure=False).issue(1, 1)
    with pytest.raises(AuthError, match="forged or altered"):
        SessionCookies(KEY, secure=False).read(forged)


def test_a_tampered_cookie_is_refused() -> None:
    cookies = SessionCookies(KEY, secure=False)
    mine, _ = cookies.issue(2, 1)
    theirs, _ = cookies.issue(1, 1)
    spliced = theirs.split(".")[0] + "." + ".".join(mine.split(".")[1:])
    for bad in (spliced, mine[:-2] + ("AA" if not mine.endswith("AA") else "BB"), "garbage"):
        with pytest.raises(AuthError):
            cookies.read(bad)


def test_a_cookie_for_another_purpose_is_refused() -> None:
    from dispatch.tokens import Tokens

    link_token = Tokens(KEY).preferences(1, "key")
    with pytest.raises(AuthError):
        SessionCookies(KEY, secure=False).read(link_token)


def test_a_cookie_expires_after_max_age_and_not_before() -> None:
    clock = FakeClock()
    cookies = SessionCookies(KEY, secure=False, max_age=timedelta(hours=12), clock=clock)
    value, claim = cookies.issue(5, 1)
    clock.now += timedelta(hours=11, minutes=59)
    assert cookies.read(value) == claim
    clock.now += timedelta(minutes=2)
    with pytest.raises(AuthError, match="expired"):
        cookies.read(value)


def test_a_cookie_dated_in_the_future_is_refused() -> None:
    clock = FakeClock()
    cookies = SessionCookies(KEY, secure=False, clock=clock)
    clock.now += timedelta(hours=1)
    value, _ = cookies.issue(5, 1)
    clock.now -= timedelta(hours=1)
    with pytest.raises(AuthError):
        cookies.read(value)


def test_cookie_attributes_over_http_and_https() -> None:
    plain = SessionCookies(KEY, secure=False)
    response = Response()
    plain.set_on(response, "v")
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=v;")
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Max-Age=43200" in header and "Secure" not in header

    secure = SessionCookies(KEY, secure=True)
    response = Response()
    secure.set_on(response, "v")
    header = response.headers["set-cookie"]
    assert header.startswith(f"__Host-{COOKIE}=v;") and "Secure" in header
    assert "Domain" not in header


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="secret key is empty"):
        SessionCookies("", secure=False)


def test_csrf_token_is_bound_to_the_session_and_the_key() -> None:
    csrf = Csrf(KEY)
    token = csrf.token("session-a")
    assert token == csrf.token("session-a") and len(token) == 64
    assert csrf.valid("session-a", token)
    assert not csrf.valid("session-b", token)
    assert not csrf.valid("session-a", Csrf("other key").token("session-a"))
    assert not csrf.valid("session-a", None) and not csrf.valid("session-a", "")
    assert not csrf.valid("session-a", token[:-1])
