from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.auth.tokens import (
    ApiPrincipal,
    authenticate_token,
    create_token,
    list_tokens,
    parse_scopes,
    revoke_token,
)
from dispatch.errors import AccountError, AuthError, NotFound
from dispatch.store.database import Database
from dispatch.store.models import ApiToken
from support.campaigns import FakeClock

TOKEN_RE = re.compile(r"^dispatch_[0-9a-f]{8}_[A-Za-z0-9]{40}$")


def make(db: Database, name: str = "cms", scopes: tuple[str, ...] = ("articles:read",)) -> str:
    with db.session() as session:
        return create_token(session, name, scopes).token


def check(db: Database, token: str, clock: FakeClock | None = None) -> ApiPrincipal:
    with db.session() as session:
        if clock is None:
            return authenticate_token(session, token)
        return authenticate_token(session, token, clock=clock)


def test_a_token_is_shown_once_and_stored_hashed(db: Database) -> None:
    token = make(db, scopes=("articles:write", "articles:read"))
    assert TOKEN_RE.match(token)
    with db.session() as session:
        row = session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.split("_")[1] == row.prefix
    assert token.split("_", 2)[2] not in repr([row.name, row.prefix, row.token_hash, row.scopes])
    assert row.scopes == ["articles:read", "articles:write"]


def test_tokens_are_unique(db: Database) -> None:
    assert make(db, "one") != make(db, "two")


def test_a_live_token_authenticates_with_its_scopes(db: Database) -> None:
    principal = check(db, make(db, scopes=("lists:read", "subscribers:read")))
    assert principal.name == "cms"
    assert principal.allows("lists:read") and principal.allows("subscribers:read")
    assert not principal.allows("subscribers:write") and not principal.allows("admin")


def test_the_admin_scope_allows_everything(db: Database) -> None:
    principal = check(db, make(db, scopes=("admin",)))
    assert principal.allows("campaigns:write") and principal.allows("subscribers:write")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"),  # wrong secret
        lambda t: t.replace("dispatch_", "other_"),
        lambda t: "dispatch_00000000_" + t.split("_", 2)[2],  # unknown prefix
        lambda t: t.split("_", 2)[0] + "_" + t.split("_", 2)[1],  # no secret
        lambda t: "",
    ],
)
def test_wrong_tokens_are_refused(db: Database, mangle) -> None:
    token = make(db)
    with pytest.raises(AuthError):
        check(db, mangle(token))


def test_a_revoked_token_is_refused_and_its_name_can_be_reused(db: Database) -> None:
    token = make(db, "cms")
    with pytest.raises(AccountError, match='"cms" already exists'):
        make(db, "cms")
    with db.session() as session:
        revoke_token(session, "cms")
    with pytest.raises(AuthError, match='"cms" was revoked'):
        check(db, token)
    replacement = make(db, "cms")
    assert check(db, replacement).name == "cms"
    with db.session() as session:
        rows = list_tokens(session)
    assert [(r.name, r.revoked_at is None) for r in rows] == [("cms", False), ("cms", True)]


def test_revoking_an_unknown_name_says_so(db: Database) -> None:
    with pytest.raises(NotFound, match='no live token named "nope"'), db.session() as session:
        revoke_token(session, "nope")


def test_last_use_is_recorded_at_most_once_a_minute(db: Database) -> None:
    token = make(db)
    clock = FakeClock()
    first = clock.now
    check(db, token, clock)
    clock.now += timedelta(seconds=30)
    check(db, token, clock)
    with db.session() as session:
        assert session.scalars(select(ApiToken.last_used_at)).one() == first
    clock.now += timedelta(seconds=31)
    check(db, token, clock)
    with db.session() as session:
        assert session.scalars(select(ApiToken.last_used_at)).one() == clock.now


def test_scopes_are_checked_and_may_be_comma_or_space_separated() -> None:
    assert parse_scopes(["articles:read,lists:read", "admin articles:read"]) == [
        "admin",
        "articles:read",
        "lists:read",
    ]
    with pytest.raises(AccountError, match="unknown scope articles:delete"):
        parse_scopes(["articles:delete"])
    with pytest.raises(AccountError, match="at least one scope"):
        parse_scopes([" "])


def test_token_names_must_be_printable(db: Database) -> None:
    for bad in ("", "   ", "x" * 101, "line\nbreak"):
        with pytest.raises(AccountError, match="printable"):
            make(db, bad)
