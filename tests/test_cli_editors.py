"""`dispatch editors …` and `dispatch tokens …` in-process."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from typer.testing import Result

from dispatch.auth.passwords import Passwords
from dispatch.auth.tokens import authenticate_token
from dispatch.store.database import Database
from dispatch.store.models import ApiToken, Editor, EditorRole

Cli = Callable[..., Result]
PW = "a long enough password"


def stored(db: Database, email: str) -> Editor:
    with db.session() as session:
        editor = session.scalar(select(Editor).where(Editor.email == email))
        assert editor is not None
        return editor


def test_add_asks_for_the_password_twice_hidden(cli: Cli, db: Database) -> None:
    result = cli("editors", "add", "Ada@Example.com", "--role", "admin", input=f"{PW}\n{PW}\n")
    assert result.exit_code == 0, result.output
    assert "added admin ada@example.com" in result.output
    assert PW not in result.output  # hidden input is not echoed
    editor = stored(db, "ada@example.com")
    assert editor.role is EditorRole.ADMIN
    assert Passwords().verify(editor.password_hash, PW)


def test_add_reads_the_password_from_stdin(cli: Cli, db: Database) -> None:
    result = cli("editors", "add", "bob@example.com", "--password-stdin", input=f"{PW}\n")
    assert result.exit_code == 0, result.output
    editor = stored(db, "bob@example.com")
    assert editor.role is EditorRole.EDITOR and Passwords().verify(editor.password_hash, PW)


def test_add_refuses_mismatch_weak_password_duplicate_and_bad_input(cli: Cli, db: Database) -> None:
    mismatch = cli("editors", "add", "c@example.com", input=f"{PW}\nsomething else\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    short = cli("editors", "add", "c@example.com", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "password too short" in short.output
    empty = cli("editors", "add", "c@example.com", "--password-stdin", input="")
    assert empty.exit_code == 2 and "stdin is empty" in empty.output
    cli("editors", "add", "c@example.com", "--password-stdin", input=f"{PW}\n")
    again = cli("editors", "add", "C@example.com", "--password-stdin", input=f"{PW}\n")
    assert again.exit_code == 2 and 'editor "c@example.com" already exists' in again.output
    bad = cli("editors", "add", "not-an-address", "--password-stdin", input=f"{PW}\n")
    assert bad.exit_code == 2 and "is not a usable email address" in bad.output
    role = cli("editors", "add", "d@example.com", "--role", "owner", input=f"{PW}\n{PW}\n")
    assert role.exit_code == 2 and "owner" in role.output


def test_list_disable_enable_and_set_password(cli: Cli, db: Database) -> None:
    cli("editors", "add", "ada@example.com", "--role", "admin", "--password-stdin", input=PW)
    cli("editors", "add", "bob@example.com", "--password-stdin", input=PW)
    listing = cli("editors", "list")
    assert listing.exit_code == 0
    assert re.search(r"ada@example\.com\s*│\s*admin\s*│\s*active", listing.output)
    assert re.search(r"bob@example\.com\s*│\s*editor\s*│\s*active", listing.output)

    assert cli("editors", "disable", "BOB@example.com").exit_code == 0
    assert not stored(db, "bob@example.com").active
    assert stored(db, "bob@example.com").session_version == 2
    assert re.search(r"bob@example\.com\s*│\s*editor\s*│\s*disabled", cli("editors", "list").output)
    assert cli("editors", "enable", "bob@example.com").exit_code == 0
    assert stored(db, "bob@example.com").active

    changed = cli("editors", "set-password", "bob@example.com", input="new password 1\n" * 2)
    assert changed.exit_code == 0 and "sessions have ended" in changed.output
    editor = stored(db, "bob@example.com")
    assert Passwords().verify(editor.password_hash, "new password 1")
    assert editor.session_version == 4

    missing = cli("editors", "disable", "nobody@example.com")
    assert missing.exit_code == 2 and 'no editor "nobody@example.com"' in missing.output


def test_tokens_create_prints_the_token_once(cli: Cli, db: Database) -> None:
    result = cli(
        "tokens", "create", "--name", "cms", "--scope", "articles:read", "--scope", "articles:write"
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"dispatch_[0-9a-f]{8}_[A-Za-z0-9]{40}", token)
    assert "will not be shown again" in result.stderr
    with db.session() as session:
        principal = authenticate_token(session, token)
    assert principal.scopes == {"articles:read", "articles:write"}

    listing = cli("tokens", "list").output
    assert token.split("_")[1] in listing and token.split("_")[2] not in listing
    assert "articles:read" in listing and "articles:write" in listing and "live" in listing


def test_tokens_revoke_and_errors(cli: Cli, db: Database) -> None:
    cli("tokens", "create", "--name", "cms", "--scope", "admin")
    again = cli("tokens", "create", "--name", "cms", "--scope", "admin")
    assert again.exit_code == 2 and 'a token named "cms" already exists' in again.output
    unknown = cli("tokens", "create", "--name", "x", "--scope", "articles:delete")
    assert unknown.exit_code == 2 and "unknown scope articles:delete" in unknown.output

    assert cli("tokens", "revoke", "cms").exit_code == 0
    with db.session() as session:
        assert session.scalars(select(ApiToken.revoked_at)).one() is not None
    assert "revoked" in cli("tokens", "list").output
    gone = cli("tokens", "revoke", "cms")
    assert gone.exit_code == 2 and 'no live token named "cms"' in gone.output
