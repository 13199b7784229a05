"""Server-side sessions, login CSRF and the audit log, over HTTP.

A logged-out cookie (even a copy kept by someone else) opens nothing at once; so does
every cookie of an editor whose password changed, by whatever code called
`set_password`. The login form refuses a post without its token. Editors' actions land
in the audit log, which admins read at /admin/audit and with `dispatch audit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from dispatch.audit import Action
from dispatch.auth.editors import set_password
from dispatch.auth.passwords import Passwords
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import AuditEntry, EditorRole, EditorSession
from support.admin import CSRF
from support.auth import (
    PASSWORD,
    Sleeps,
    add_editor,
    auth_app,
    cheap_hasher,
    login_csrf,
    post_login,
)

ADA, BOB = "ada@example.com", "bob@example.com"  # an admin, an editor


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-sessions-secret")


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    add_editor(db, ADA, EditorRole.ADMIN)
    add_editor(db, BOB, EditorRole.EDITOR)
    return auth_app(settings, db, Sleeps())


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, follow_redirects=False)


def session_cookie(client: TestClient) -> tuple[str, str]:
    [(name, value)] = [(n, v) for n, v in client.cookies.items() if n.endswith("dispatch_admin")]
    return name, value


def csrf(client: TestClient) -> str:
    found = CSRF.search(client.get("/admin").text)
    assert found
    return found.group(1)


def sessions(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(EditorSession)) or 0)


def audit(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(row.actor, row.action, row.target) for row in rows]


def test_a_logged_out_cookie_is_dead_at_once_even_if_copied(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with browser(app) as laptop, browser(app) as thief:
        assert post_login(laptop, BOB).status_code == 303
        name, value = session_cookie(laptop)
        thief.cookies.set(name, value)
        assert thief.get("/admin").status_code == 200  # a copy works while the session lives
        assert sessions(db) == 1
        laptop.post("/admin/logout", data={"csrf_token": csrf(laptop)})
        assert sessions(db) == 0
        assert thief.get("/admin").status_code == 303  # signed, unexpired, and refused


def test_a_new_password_ends_every_session_from_the_function_itself(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    """What a password reset (or any other caller of `set_password`) gets for free."""
    with browser(app) as laptop, browser(app) as phone, browser(app) as other:
        for device in (laptop, phone):
            assert post_login(device, BOB).status_code == 303
        assert post_login(other, ADA).status_code == 303
        with db.session() as session:
            set_password(session, Passwords(cheap_hasher()), BOB, "a brand new secret")
        assert laptop.get("/admin").status_code == 303
        assert phone.get("/admin").status_code == 303
        assert other.get("/admin").status_code == 200  # somebody else's session lives on
    assert sessions(db) == 1
    assert ("system", "password.change", f"editor {BOB}") in audit(db)


def test_logout_everywhere_deletes_every_session_row(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with browser(app) as laptop, browser(app) as phone:
        post_login(laptop, BOB)
        post_login(phone, BOB)
        assert sessions(db) == 2
        laptop.post("/admin/logout", data={"csrf_token": csrf(laptop), "everywhere": "1"})
        assert phone.get("/admin").status_code == 303 and sessions(db) == 0


def test_the_login_form_needs_its_csrf_token(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with browser(app) as victim, browser(app) as attacker:
        plain = {"email": BOB, "password": PASSWORD}
        refused = victim.post("/admin/login", data=plain)
        assert refused.status_code == 403 and "login form had expired" in refused.text
        assert not any(n.endswith("dispatch_admin") for n in victim.cookies)
        # A token from the attacker's own visit does not fit the victim's login cookie.
        foreign = login_csrf(attacker)
        login_csrf(victim)
        forged = victim.post("/admin/login", data={**plain, "csrf_token": foreign})
        assert forged.status_code == 403 and sessions(db) == 0
        assert post_login(victim, BOB).status_code == 303 and sessions(db) == 1


def test_a_session_row_past_its_expiry_opens_nothing(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    with browser(app) as client:
        post_login(client, BOB)
        with db.session() as session:
            row = session.scalars(select(EditorSession)).one()
            row.expires_at = row.created_at - timedelta(seconds=1)  # the cookie is still fine
        assert client.get("/admin").status_code == 303


def test_actions_and_logins_are_audited_and_admins_read_them(
    app,  # type: ignore[no-untyped-def]
    db: Database,
    cli: Callable[..., Result],
) -> None:
    with browser(app) as bob, browser(app) as ada:
        assert post_login(bob, BOB, "not the password").status_code == 400
        post_login(bob, BOB)
        made = bob.post("/admin/tokens", data={"csrf_token": csrf(bob), "name": "deploy"})
        assert made.status_code == 403  # editors may not make tokens: refused, not recorded
        exported = bob.get("/admin/lists/morning-briefing/export.csv")
        assert exported.status_code == 200
        bob.post("/admin/logout", data={"csrf_token": csrf(bob)})
        assert bob.get("/admin/audit").status_code == 303

        post_login(ada, ADA)
        created = ada.post(
            "/admin/tokens",
            data={"csrf_token": csrf(ada), "name": "deploy", "scopes": ["articles:read"]},
        )
        assert created.status_code < 400, created.text
        page = ada.get("/admin/audit")
        assert page.status_code == 200
        for expected in ("login.failed", "subscribers.export", "token.create", "logout"):
            assert expected in page.text
        filtered = ada.get("/admin/audit?action=login").text
        assert "token.create" not in filtered
        assert post_login(bob, BOB).status_code == 303
        assert bob.get("/admin/audit").status_code == 403

    entries = audit(db)
    assert entries[:5] == [
        (BOB, "login.failed", ""),
        (BOB, "login", ""),
        (BOB, "subscribers.export", "list morning-briefing"),
        (BOB, "logout", ""),
        (ADA, "login", ""),
    ]
    assert (ADA, "token.create", "") in entries
    printed = cli("audit", "--action", "subscribers.")
    assert printed.exit_code == 0 and "subscribers.export" in printed.stdout
    assert "token.create" not in printed.stdout


def test_the_command_line_records_token_and_password_changes(
    db: Database, cli: Callable[..., Result]
) -> None:
    add_editor(db, BOB)
    assert cli("tokens", "create", "--name", "bot", "--scope", "articles:read").exit_code == 0
    assert cli("tokens", "revoke", "bot").exit_code == 0
    changed = cli("editors", "set-password", BOB, "--password-stdin", input="a new password!\n")
    assert changed.exit_code == 0, changed.output
    assert cli("editors", "disable", BOB).exit_code == 0
    assert audit(db) == [
        ("cli", "token.create", "token bot"),
        ("cli", "token.revoke", "token bot"),
        ("cli", "password.change", f"editor {BOB}"),
        ("cli", "editor.disable", f"editor {BOB}"),
    ]
    printed = cli("audit", "--actor", "cli", "--limit", "2").stdout.splitlines()
    assert [line.split("\t")[2] for line in printed] == ["editor.disable", "password.change"]


def test_api_changes_are_audited_with_the_token_name_and_refusals_are_not(
    settings: Settings, db: Database
) -> None:
    from support.api import api_client

    with api_client(settings, db, "subscribers:write", "subscribers:read") as client:
        made = client.post("/api/subscribers", json={"email": "Zed@Example.org"})
        assert made.status_code == 201
        person = made.json()["id"]
        assert client.post("/api/subscribers", json={"email": "zed@example.org"}).status_code == 409
        assert client.get(f"/api/subscribers/{person}").status_code == 200  # a read: not kept
        assert client.delete(f"/api/subscribers/{person}").status_code in (200, 204)
    assert audit(db) == [
        ("api:tests", "subscriber.create", ""),
        ("api:tests", "subscriber.delete", f"subscriber {person}"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "action", "target"),
    [
        ("POST", "/admin/campaigns/7/send", "campaign.send", "campaign 7"),
        ("POST", "/admin/campaigns/7/pause", "campaign.pause", "campaign 7"),
        ("POST", "/api/campaigns/7/cancel", "campaign.cancel", "campaign 7"),
        ("POST", "/admin/campaigns/7/delete", "campaign.delete", "campaign 7"),
        ("POST", "/admin/subscribers/delete", "subscriber.delete", ""),
        ("GET", "/admin/lists/weekly/export.csv", "subscribers.export", "list weekly"),
        ("POST", "/admin/somewhere/new", "POST /admin/somewhere/new", "/admin/somewhere/new"),
    ],
)
def test_requests_are_named_by_the_audit_table(
    method: str, path: str, action: str, target: str
) -> None:
    from dispatch.audit import describe, is_audited

    assert describe(method, path) == Action(action, target)
    assert is_audited(method, path)
    assert not is_audited("GET", "/admin/campaigns/7")  # reading is not an action
    assert not is_audited("POST", "/admin/login")  # recorded by the login route itself
