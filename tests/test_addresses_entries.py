"""Every way an address comes in stores the normal form and refuses look-alikes with the
reason: CLI import and add, the sign-up page, the admin (add, upload, search), the API,
config, editors. One odd row never spoils the others."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.store.database import Database
from dispatch.store.models import Subscriber
from dispatch.web import create_app
from support.admin import EDITOR, Admin, add_people
from support.api import api_client
from support.auth import Sleeps, auth_app
from test_admin_subscribers import finished

LIST = "morning-briefing"
ODD_FILE = (
    "email,name\n"
    "ann@example.org,Ann\n"  # 2
    "Ann@Example.ORG,Ann again\n"  # 3: the same person
    "ｖictim@example.com,Fullwidth\n"  # 4
    "vicтim@example.com,Mixed\n"  # 5
    "x@xn--bcher-kva.example,Buch\n"  # 6: stored in Unicode
    "idn@exämple.com,Idn\n"  # 7
    "a\u200bb@example.com,Invisible\n"  # 8
    "bob@ex\u0430mple.com,Domain\n"  # 9
    "snow@xn--n3h.example,Snowman\n"  # 10
    "carol@example.org,Carol\n"  # 11
)
ODD_REASONS = {
    4: "FULLWIDTH LATIN SMALL LETTER V",
    5: "mixes Latin and Cyrillic letters",
    8: "ZERO WIDTH SPACE",
    9: "CYRILLIC SMALL LETTER A",
    10: "not valid IDNA",
}
KEPT = {"ann@example.org", "x@bücher.example", "idn@exämple.com", "carol@example.org"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "addresses-entries-secret")


def stored(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {
            email: name
            for email, name in session.execute(select(Subscriber.email, Subscriber.name))
        }


def test_cli_import_rejects_odd_rows_by_line_and_imports_the_rest(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(ODD_FILE, encoding="utf-8")

    result = cli("subscribers", "import", str(path), "--list", LIST)

    assert result.exit_code == 1, result.output
    for line, reason in ODD_REASONS.items():
        said = next(row for row in result.output.splitlines() if row.startswith(f"{path}:{line}:"))
        assert reason in said, said
    assert f'{path}:9: "bob@exаmple.com" is not a usable email address: the domain label' in (
        result.output
    )
    assert f"{path}:3:" not in result.output  # Ann@Example.ORG is ann@example.org: merged
    assert "rejected: 5" in result.output and "already subscribed: 1" in result.output
    assert set(stored(db)) == KEPT
    with (tmp_path / "people.rejects.csv").open(encoding="utf-8", newline="") as rejects:
        assert [row[2] for row in csv.reader(rejects)][1:] == [
            "ｖictim@example.com",
            "vicтim@example.com",
            "a\u200bb@example.com",
            "bob@ex\u0430mple.com",
            "snow@xn--n3h.example",
        ]


def test_cli_add_stores_the_normal_form_and_refuses_look_alikes(
    cli: Callable[..., Result], db: Database
) -> None:
    added = cli("subscribers", "add", "X@XN--BCHER-KVA.example", "--list", LIST)
    assert added.exit_code == 0 and "x@bücher.example: subscribed" in added.output
    again = cli("subscribers", "add", "X@Bücher.Example", "--list", LIST)
    assert "x@bücher.example: already subscribed" in again.output
    refused = cli("subscribers", "add", "ｖictim@example.com", "--list", LIST)
    assert refused.exit_code == 2 and "FULLWIDTH LATIN SMALL LETTER V" in refused.output
    suppressed = cli("subscribers", "suppress", "vicтim@example.com")
    assert suppressed.exit_code == 2 and "mixes Latin and Cyrillic" in suppressed.output
    assert set(stored(db)) == {"x@bücher.example"}


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as client:
        yield client


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("ｖictim@example.com", "FULLWIDTH LATIN SMALL LETTER V"),
        ("vicтim@example.com", "mixes Latin and Cyrillic letters"),
        ("ann@xn--exmple-4nf.com", "the domain label"),
        ("a\u202eb@example.com", "RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_sign_up_page_says_what_is_wrong(
    site: TestClient, db: Database, typed: str, reason: str
) -> None:
    page = site.post("/subscribe", data={"email": typed, "name": "V", "list": LIST})
    assert page.status_code == 400
    assert "This email address cannot be used" in page.text and reason in page.text
    assert "Check your inbox" not in page.text
    assert stored(db) == {}


def test_sign_up_in_any_spelling_is_one_subscriber(site: TestClient, db: Database) -> None:
    for typed in ("Ann@Example.org", "ann@example.org", "ANN@EXAMPLE.ORG"):
        page = site.post("/subscribe", data={"email": typed, "list": LIST})
        assert page.status_code == 200 and "ann@example.org" in page.text
    page = site.post("/subscribe", data={"email": "x@xn--bcher-kva.example", "list": LIST})
    assert page.status_code == 200 and "x@bücher.example" in page.text
    assert set(stored(db)) == {"ann@example.org", "x@bücher.example"}


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def test_admin_add_upload_and_search(admin: Admin, db: Database) -> None:
    refused = admin.post(f"/admin/lists/{LIST}/add", {"email": "ｖictim@example.com"})
    assert refused.status_code == 400 and "FULLWIDTH LATIN SMALL LETTER V" in refused.text
    upload = {"file": ("odd.csv", ODD_FILE.encode(), "text/csv")}
    started = admin.post(f"/admin/lists/{LIST}/import", files=upload)
    page = finished(admin, started.headers["location"])  # imported in the background
    for line, reason in ODD_REASONS.items():
        assert f"odd.csv:{line}: " in page and reason in page
    assert set(stored(db)) == KEPT
    for query, found in [
        ("ANN@EXAMPLE.ORG", "ann@example.org"),
        ("x@xn--bcher-kva.example", "x@bücher.example"),
        ("bücher", "x@bücher.example"),
    ]:
        listing = admin.get(f"/admin/lists/{LIST}", params={"q": query}).text
        assert found in listing and "carol@example.org" not in listing


@pytest.fixture
def api(settings: Settings, db: Database) -> Iterator[TestClient]:
    with api_client(settings, db) as client:
        yield client


def test_api_create_find_and_refuse(api: TestClient) -> None:
    made = api.post("/api/subscribers", json={"email": "X@xn--BCHER-kva.example"})
    assert made.status_code == 201 and made.json()["email"] == "x@bücher.example"
    found = api.get("/api/subscribers/X@XN--BCHER-KVA.EXAMPLE")
    assert found.status_code == 200 and found.json()["id"] == made.json()["id"]
    twin = api.post("/api/subscribers", json={"email": "x@Bücher.example"})
    assert twin.status_code == 409
    refused = api.post("/api/subscribers", json={"email": "ｖictim@example.com"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "body.email" and "FULLWIDTH LATIN SMALL LETTER V" in error["message"]


def test_config_refuses_a_look_alike_sender(tmp_path: Path, database_url: str) -> None:
    path = write_config(
        tmp_path, database_url, {r'^from_email = "briefing@': 'from_email = "briefіng@'}
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "lists[0].from_email" in str(caught.value)
    assert "mixes Latin and Cyrillic letters" in str(caught.value)


def test_config_stores_a_sender_in_normal_form(tmp_path: Path, database_url: str) -> None:
    path = write_config(
        tmp_path,
        database_url,
        {r'^from_email = "briefing@dispatch.example"': 'from_email = "News@XN--BCHER-KVA.example"'},
    )
    assert config.load(path).lists[0].from_email == "news@bücher.example"


def test_editors_refuse_look_alikes_and_log_in_in_any_case(
    cli: Callable[..., Result], db: Database
) -> None:
    pw = "correct horse battery staple"
    refused = cli("editors", "add", "аda@example.com", "--password-stdin", input=f"{pw}\n")
    assert refused.exit_code == 2 and "mixes Cyrillic and Latin letters" in refused.output
    added = cli("editors", "add", "Ada@Example.com", "--password-stdin", input=f"{pw}\n")
    assert added.exit_code == 0, added.output
    listed = cli("editors", "list")
    assert "ada@example.com" in listed.output and "Ada@" not in listed.output
