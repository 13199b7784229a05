"""Password reset by email and editor invitations: signed links that expire and work
once, the same answer for every address, mail through the configured sender (outbox)."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from dispatch.auth.editors import set_active
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Editor
from support.admin import ADMIN, EDITOR, Admin, add_people
from support.auth import PASSWORD, Sleeps, auth_app, post_login

LINK = re.compile(r"http://127\.0\.0\.1:8000(/admin/(?:reset|invite)/[A-Za-z0-9_.\-]+)")
NEW = "a brand new passphrase"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "account-links-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as test_client:
        yield test_client


def mails(settings: Settings) -> list[EmailMessage]:
    folder = Path(settings.delivery.outbox.dir) / "0"
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    )
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in files]  # type: ignore[misc]


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(1)


def post_forgot(client: TestClient, address: str) -> Response:
    """Ask for a reset link as a browser does: load the form, post it with its token."""
    found = re.search(r'name="csrf_token" value="(\w+)"', client.get("/admin/forgot").text)
    assert found, "no CSRF field on the forgot-password form"
    return client.post("/admin/forgot", data={"email": address, "csrf_token": found.group(1)})


def logs_in(client: TestClient, address: str, password: str) -> bool:
    response = post_login(client, address, password)
    client.cookies.clear()
    return response.status_code == 303


def test_forgot_answers_the_same_for_every_address_and_mails_only_real_editors(
    client: TestClient, settings: Settings, db: Database
) -> None:
    assert 'href="/admin/forgot"' in client.get("/admin/login").text
    with db.session() as session:
        set_active(session, "ada@example.com", False)
    answers = [
        post_forgot(client, address)
        for address in (EDITOR.upper(), "nobody@example.com", ADMIN, "not an address", "")
    ]
    assert {r.status_code for r in answers} == {200}
    texts = {re.sub(r'name="csrf_token" value="\w+"', "", r.text) for r in answers}
    assert len(texts) == 1  # same page, whatever the address
    sent = mails(settings)
    assert [m["To"] for m in sent] == [EDITOR]  # not the unknown, not the disabled one
    assert sent[0]["Subject"] == "Reset your password"
    assert sent[0]["From"].addresses[0].addr_spec == "briefing@dispatch.example"  # the first list's
    assert sent[0].get_content_type() == "multipart/alternative"


def test_forgot_without_the_forms_token_is_refused_and_mails_nothing(
    client: TestClient, settings: Settings
) -> None:
    """A foreign page posting the form in a visitor's browser has no token (and its
    cookie is SameSite=Strict): 403, the form again, no mail."""
    refused = client.post("/admin/forgot", data={"email": EDITOR})
    assert refused.status_code == 403 and "expired or came from another page" in refused.text
    forged = client.post("/admin/forgot", data={"email": EDITOR, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert mails(settings) == []
    assert post_forgot(client, EDITOR).status_code == 200 and len(mails(settings)) == 1


def test_a_reset_link_sets_the_password_once_and_ends_sessions(
    client: TestClient, settings: Settings, db: Database
) -> None:
    with db.session() as session:
        version = session.scalar(select(Editor.session_version).where(Editor.email == EDITOR))
    post_forgot(client, EDITOR)
    path = link_in(mails(settings)[-1])
    page = client.get(path)
    assert page.status_code == 200 and EDITOR in page.text and 'name="password"' in page.text
    differ = client.post(path, data={"password": NEW, "password_again": NEW + "x"})
    assert differ.status_code == 400 and "differ" in differ.text
    short = client.post(path, data={"password": "short", "password_again": "short"})
    assert short.status_code == 400 and "too short" in short.text
    done = client.post(path, data={"password": NEW, "password_again": NEW})
    assert done.status_code == 200 and "Password saved" in done.text
    assert logs_in(client, EDITOR, NEW) and not logs_in(client, EDITOR, PASSWORD)
    with db.session() as session:
        after = session.scalar(select(Editor.session_version).where(Editor.email == EDITOR))
    assert after == version + 1  # set_password ended the other sessions
    other = "yet another passphrase"
    again = client.post(path, data={"password": other, "password_again": other})
    assert again.status_code == 400 and "used already" in again.text
    assert client.get(path).status_code == 400
    assert logs_in(client, EDITOR, NEW)


def test_a_reset_link_expires_and_a_forged_one_is_refused(
    client: TestClient, settings: Settings
) -> None:
    post_forgot(client, EDITOR)
    path = link_in(mails(settings)[-1])
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert "not valid" in client.get(forged).text
    assert "not valid" in client.get(path.replace("/reset/", "/invite/")).text  # other purpose
    with time_machine.travel(time.time() + 61 * 60):
        expired = client.post(path, data={"password": NEW, "password_again": NEW})
    assert expired.status_code == 400 and "expired" in expired.text
    assert logs_in(client, EDITOR, PASSWORD)


def test_reset_mails_are_throttled_per_address_without_saying_so(
    client: TestClient, settings: Settings
) -> None:
    answers = {post_forgot(client, EDITOR).status_code for _ in range(5)}
    assert answers == {200} and len(mails(settings)) == 3


def test_an_admin_invites_a_colleague_who_sets_a_password_once(
    client: TestClient, settings: Settings, db: Database
) -> None:
    admin = Admin(client, ADMIN)
    sent = admin.post("/admin/editors/invite", {"email": "Zoë@Bücher.example", "role": "editor"})
    assert sent.status_code == 303 and "notice=invited" in sent.headers["location"]
    assert "Invitation sent" in admin.get(sent.headers["location"]).text
    twice = admin.post("/admin/editors/invite", {"email": "zoë@bücher.example"})
    assert twice.status_code == 400 and "already exists" in twice.text
    bad_role = admin.post("/admin/editors/invite", {"email": "x@example.com", "role": "owner"})
    assert bad_role.status_code == 400 and "unknown role" in bad_role.text
    client.cookies.clear()
    (invitation,) = [m for m in mails(settings) if "bücher" in str(m["To"])]
    assert ADMIN in invitation.get_body(("plain",)).get_content()
    path = link_in(invitation)
    assert path.startswith("/admin/invite/") and "Choose your password" in client.get(path).text
    assert client.post(path, data={"password": NEW, "password_again": NEW}).status_code == 200
    assert logs_in(client, "zoë@bücher.example", NEW)
    used = client.post(path, data={"password": NEW, "password_again": NEW})
    assert used.status_code == 400 and "used already" in used.text


def test_only_admins_invite(client: TestClient, db: Database) -> None:
    editor = Admin(client, EDITOR)
    refused = editor.post("/admin/editors/invite", {"email": "x@example.com"})
    assert refused.status_code == 403
    with db.session() as session:
        assert session.scalar(select(Editor).where(Editor.email == "x@example.com")) is None


def test_an_invitation_the_provider_refuses_says_so_and_shows_the_link(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    """SMTP answers 554 after DATA for the colleague: the account exists (it cannot be
    invited twice), so the admin is told why the mail did not go and given the link; a
    reset mail refused the same way changes nothing on the page anyone sees."""
    from conftest import write_config
    from dispatch import config
    from support.smtp_server import SmtpServer

    add_people(db)
    with SmtpServer() as server:
        settings = config.load(
            write_config(
                tmp_path,
                database_url,
                {
                    r'^backend = "outbox".*$': 'backend = "smtp"',
                    r"^port = 25$": f"port = {server.port}",
                    r'^security = "starttls".*$': 'security = "none"',
                },
            )
        )
        server.reply_after_data("new@example.com", "554 5.7.1 Message rejected as spam")
        app = auth_app(settings, db, Sleeps())
        with TestClient(app, follow_redirects=False) as client:
            refused = Admin(client, ADMIN).post(
                "/admin/editors/invite", {"email": "new@example.com"}
            )
            assert refused.status_code == 502
            assert "was created, but the invitation mail was not sent" in refused.text
            assert "554 5.7.1 Message rejected as spam" in refused.text
            found = LINK.search(refused.text)
            assert found and found.group(1).startswith("/admin/invite/")
            client.cookies.clear()
            page = client.get(found.group(1))
            assert page.status_code == 200 and "Choose your password" in page.text
            server.reply_after_data(EDITOR, "554 5.7.1 Message rejected as spam")
            assert post_forgot(client, EDITOR).status_code == 200
            assert "a mail with a link" in post_forgot(client, ADMIN).text
        assert [r.rcpt_tos for r in server.received] == [[ADMIN]]  # only the accepted one
