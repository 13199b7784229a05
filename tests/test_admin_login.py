"""The admin's doors over HTTP: login, cookie, lock-out, CSRF, logout, roles."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from httpx import Response

from conftest import write_config
from dispatch import config
from dispatch.auth.editors import set_active, set_password
from dispatch.auth.passwords import Passwords
from dispatch.auth.sessions import COOKIE
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.store.types import utcnow
from support.auth import PASSWORD, Sleeps, add_editor, auth_app, cheap_hasher, post_login
from support.campaigns import FakeClock

ADA, BOB = "ada@example.com", "bob@example.com"  # an admin, an editor


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-login-secret")


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def people(db: Database) -> None:
    add_editor(db, ADA, EditorRole.ADMIN)
    add_editor(db, BOB, EditorRole.EDITOR)


@pytest.fixture
def client(settings: Settings, db: Database, sleeps: Sleeps, people: None) -> Iterator[TestClient]:
    with TestClient(auth_app(settings, db, sleeps), follow_redirects=False) as test_client:
        yield test_client


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Response:
    return post_login(client, email, password, **extra)


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_without_a_session_admin_pages_redirect_to_login(client: TestClient) -> None:
    for path, target in [
        ("/admin", "/admin/login?next=/admin"),
        ("/admin/editors?q=1", "/admin/login?next=/admin/editors%3Fq%3D1"),
    ]:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == target
    assert client.post("/admin/logout").status_code == 401  # not a page request


def test_the_login_page_renders(client: TestClient) -> None:
    page = client.get("/admin/login?next=/admin/editors")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert 'name="next" value="/admin/editors"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_login_sets_an_httponly_samesite_cookie_and_goes_to_next(client: TestClient) -> None:
    response = login(client, "Ada@Example.com", next="/admin/editors")
    assert response.status_code == 303 and response.headers["location"] == "/admin/editors"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie  # base_url is http here
    page = client.get("/admin")
    assert page.status_code == 200 and ADA in page.text and "admin" in page.text
    assert client.get("/admin/login").headers["location"] == "/admin"  # already in


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/archive", "/admin/../archive"]
)
def test_login_never_sends_anyone_outside_the_admin(client: TestClient, target: str) -> None:
    assert login(client, ADA, next=target).headers["location"] == "/admin"


def test_wrong_password_and_unknown_address_get_the_same_answer(
    client: TestClient, sleeps: Sleeps
) -> None:
    wrong = login(client, ADA, "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 400 and "set-cookie" not in response.headers
        assert "Wrong email or password." in response.text
        assert "not the password" not in response.text
    assert wrong.text.replace(ADA, "X") == unknown.text.replace("nobody@example.com", "X")
    assert sleeps.calls == [0.25, 0.5]  # the second failure from this IP waits longer


def test_repeated_failures_are_slowed_then_locked(client: TestClient, sleeps: Sleeps) -> None:
    with time_machine.travel(utcnow(), tick=False) as traveller:
        codes = [login(client, BOB, f"wrong {i}").status_code for i in range(5)]
        assert codes == [400, 400, 400, 400, 429]
        assert sleeps.calls == [0.25, 0.5, 1.0, 2.0, 2.0]
        locked = login(client, BOB)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
        assert "Try again in 15 minutes" in locked.text and "set-cookie" not in locked.headers
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert login(client, BOB).status_code == 303


def test_forged_tampered_and_expired_cookies_are_refused(
    settings: Settings, db: Database, sleeps: Sleeps, people: None
) -> None:
    clock = FakeClock()
    with TestClient(auth_app(settings, db, sleeps, clock), follow_redirects=False) as client:
        login(client, ADA)
        genuine = client.cookies[COOKIE]
        assert client.get("/admin").status_code == 200
        _payload, stamp, signature = genuine.split(".")
        other = base64.urlsafe_b64encode(b'[2,1,"xyz"]').decode().rstrip("=")  # Bob, unsigned
        for bad in (f"{other}.{stamp}.{signature}", genuine[:-3] + "abc", "nonsense"):
            client.cookies.clear()
            client.cookies.set(COOKIE, bad)
            assert client.get("/admin").status_code == 303
        client.cookies.clear()
        client.cookies.set(COOKIE, genuine)
        assert client.get("/admin").status_code == 200
        clock.now += timedelta(hours=12, seconds=1)
        assert client.get("/admin").headers["location"] == "/admin/login?next=/admin"


def test_a_new_password_or_disabling_ends_existing_sessions(
    client: TestClient, db: Database
) -> None:
    login(client, BOB)
    assert client.get("/admin").status_code == 200
    with db.session() as session:
        set_password(session, Passwords(cheap_hasher()), BOB, "another long secret")
    assert client.get("/admin").status_code == 303
    login(client, BOB, "another long secret")
    assert client.get("/admin").status_code == 200
    with db.session() as session:
        set_active(session, BOB, False)
    assert client.get("/admin").status_code == 303


def test_csrf_missing_or_wrong_is_403_and_right_logs_out(client: TestClient) -> None:
    login(client, ADA)
    token = csrf_of(client.get("/admin"))
    assert client.post("/admin/logout").status_code == 403
    assert client.post("/admin/logout", data={"csrf_token": "0" * 64}).status_code == 403
    refused = client.post(
        "/admin/logout", data={"csrf_token": "f" * 64}, headers={"accept": "text/html"}
    )
    assert refused.status_code == 403 and "CSRF token is missing or wrong" in refused.text
    assert client.get("/admin").status_code == 200  # still logged in

    response = client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert client.get("/admin").status_code == 303


def test_a_csrf_token_from_another_session_is_refused(client: TestClient) -> None:
    login(client, ADA)
    first = csrf_of(client.get("/admin"))
    client.cookies.clear()
    login(client, ADA)
    assert client.post("/admin/logout", data={"csrf_token": first}).status_code == 403
    second = csrf_of(client.get("/admin"))
    assert client.post("/admin/logout", headers={"X-CSRF-Token": second}).status_code == 303


def test_logout_everywhere_ends_the_other_sessions(
    settings: Settings, db: Database, sleeps: Sleeps, people: None
) -> None:
    app = auth_app(settings, db, sleeps)
    with (
        TestClient(app, follow_redirects=False) as laptop,
        TestClient(app, follow_redirects=False) as phone,
    ):
        login(laptop, BOB)
        login(phone, BOB)
        token = csrf_of(laptop.get("/admin"))
        laptop.post("/admin/logout", data={"csrf_token": token, "everywhere": "1"})
        assert phone.get("/admin").status_code == 303


def test_an_editor_cannot_reach_admin_only_pages_an_admin_can(client: TestClient) -> None:
    login(client, BOB)
    dashboard = client.get("/admin").text
    assert 'href="/admin/articles"' in dashboard and 'href="/admin/editors"' not in dashboard
    refused = client.get("/admin/editors", headers={"accept": "text/html"})
    assert refused.status_code == 403 and "only an admin may do this" in refused.text
    assert client.get("/admin/editors").json() == {"detail": "only an admin may do this"}

    client.cookies.clear()
    login(client, ADA)
    page = client.get("/admin/editors")
    assert page.status_code == 200 and ADA in page.text and BOB in page.text
    assert 'href="/admin/tokens"' in page.text and 'aria-current="page">Editors' in page.text


def test_https_sites_use_a_secure_host_only_cookie(
    tmp_path: Path, database_url: str, db: Database, sleeps: Sleeps, people: None
) -> None:
    path = write_config(
        tmp_path, database_url, {r"^base_url = .*$": 'base_url = "https://news.example.org"'}
    )
    settings = config.load(path)
    app = auth_app(settings, db, sleeps)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/admin/login").headers["set-cookie"]
        assert form.startswith("__Host-dispatch_login=") and "Secure" in form
        assert "Path=/;" in form and "SameSite=strict" in form  # what __Host- requires
        cookie = login(client, ADA).headers["set-cookie"]
        assert cookie.startswith(f"__Host-{COOKIE}=") and "Secure" in cookie
        assert client.get("/admin").status_code == 200
