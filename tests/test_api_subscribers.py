"""/api/subscribers and /api/lists: create, get, update, erase; join (confirmed, or by
the opt-in rules with a confirmation mail) and leave lists; lists with counts; members."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.subscribers.membership import suppress_address
from support.api import SECRET, api_client


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with api_client(settings, db) as test_client:
        yield test_client


def add(client: TestClient, email: str, **fields: object) -> dict:
    response = client.post("/api/subscribers", json={"email": email, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def outbox_mails(settings: Settings) -> list[Path]:
    """Confirmations (`0/`) and welcome series steps (their campaign's folder)."""
    return sorted(settings.delivery.outbox.dir.glob("*/*.eml"))


def test_create_get_update(client: TestClient) -> None:
    made = add(client, " Ada@EXAMPLE.org ", name="Ada\r\nLovelace", attributes={"city": "Lisbon"})
    assert made["email"] == "ada@example.org"  # stored lower-case
    assert made["name"] == "Ada Lovelace"
    assert made["attributes"] == {"city": "Lisbon"}
    assert made["subscriptions"] == [] and made["suppressed"] is False
    by_email = client.get("/api/subscribers/Ada@EXAMPLE.ORG").json()
    assert by_email["id"] == made["id"]
    assert client.get(f"/api/subscribers/{made['id']}").json()["email"] == "ada@example.org"
    patched = client.patch(f"/api/subscribers/{made['id']}", json={"attributes": {"n": 3}})
    assert patched.json()["attributes"] == {"n": 3} and patched.json()["name"] == "Ada Lovelace"
    renamed = client.patch("/api/subscribers/Ada@example.org", json={"name": "Ada L."}).json()
    assert renamed["name"] == "Ada L." and renamed["attributes"] == {"n": 3}


def test_create_errors(client: TestClient) -> None:
    add(client, "bob@example.org")
    duplicate = client.post("/api/subscribers", json={"email": "bob@EXAMPLE.org"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {
        "message": "bob@example.org is already a subscriber",
        "field": "body.email",
    }
    invalid = client.post("/api/subscribers", json={"email": "not an address"})
    assert invalid.status_code == 422 and invalid.json()["error"]["field"] == "body.email"
    nested = client.post(
        "/api/subscribers", json={"email": "c@example.org", "attributes": {"a": [1]}}
    )
    assert nested.status_code == 422
    assert nested.json()["error"]["field"].startswith("body.attributes.a")
    nul = client.post("/api/subscribers", json={"email": "d@example.org", "name": "a\u0000b"})
    assert nul.status_code == 422 and nul.json()["error"]["field"] == "body.name"
    assert client.get("/api/subscribers/nobody@example.org").status_code == 404
    assert client.get("/api/subscribers/12345").status_code == 404
    assert client.patch("/api/subscribers/12345", json={"name": "x"}).status_code == 404


def test_join_with_double_opt_in_sends_a_confirmation(
    client: TestClient, settings: Settings
) -> None:
    person = add(client, "carol@example.org", name="Carol")
    joined = client.put(f"/api/subscribers/{person['id']}/lists/morning-briefing")
    assert joined.status_code == 200, joined.text
    body = joined.json()
    assert body["mail"] == "confirm"
    assert body["subscription"]["status"] == "pending" and body["subscription"]["list"] == (
        "morning-briefing"
    )
    mails = wait_for(lambda: outbox_mails(settings))
    assert len(mails) == 1
    text = mails[0].read_bytes()
    assert b"carol@example.org" in text and b"/confirm/" in text
    again = client.put(f"/api/subscribers/{person['id']}/lists/morning-briefing", json={})
    assert again.json()["mail"] is None  # at most one confirmation an hour


def test_join_confirmed_leave_and_rejoin_rules(client: TestClient, db: Database) -> None:
    person = add(client, "dan@example.org")
    url = "/api/subscribers/dan@example.org/lists/weekly-review"
    joined = client.put(url, json={"confirmed": True}).json()
    assert joined["subscription"]["status"] == "confirmed" and joined["mail"] is None
    left = client.delete(url)
    assert left.status_code == 200 and left.json()["status"] == "unsubscribed"
    assert client.delete(url).json()["status"] == "unsubscribed"  # idempotent
    refused = client.put(url, json={"confirmed": True})
    assert refused.status_code == 409
    assert "unsubscribed" in refused.json()["error"]["message"]
    back = client.put(url, json={"confirmed": False}).json()  # they confirm by mail
    assert back["subscription"]["status"] == "pending" and back["mail"] == "confirm"
    shown = client.get(f"/api/subscribers/{person['id']}").json()
    assert [(s["list"], s["status"]) for s in shown["subscriptions"]] == [
        ("weekly-review", "pending")
    ]
    assert (
        client.delete("/api/subscribers/dan@example.org/lists/morning-briefing").status_code == 404
    )
    assert client.put("/api/subscribers/dan@example.org/lists/no-such-list").status_code == 404
    with db.session() as session:
        suppress_address(session, "dan@example.org")
    suppressed = client.put(url, json={"confirmed": True})
    assert suppressed.status_code == 409 and "suppressed" in suppressed.json()["error"]["message"]
    assert client.get(f"/api/subscribers/{person['id']}").json()["suppressed"] is True


def test_delete_erases_the_person(client: TestClient, db: Database) -> None:
    add(client, "eve@example.org")
    client.put("/api/subscribers/eve@example.org/lists/weekly-review", json={"confirmed": True})
    with db.session() as session:
        suppress_address(session, "eve@example.org")
    erased = client.delete("/api/subscribers/eve@example.org")
    assert erased.status_code == 200
    assert erased.json() == {
        "email": "eve@example.org",
        "subscriber": 1,
        "subscriptions": 1,
        "suppressions": 1,
    }
    assert client.get("/api/subscribers/eve@example.org").status_code == 404
    assert client.delete("/api/subscribers/eve@example.org").status_code == 404


def test_lists_with_counts_and_members_paged(client: TestClient) -> None:
    for number in range(5):
        person = add(client, f"m{number}@example.org")
        confirmed = number < 3
        client.put(
            f"/api/subscribers/{person['id']}/lists/weekly-review", json={"confirmed": confirmed}
        )
    client.delete("/api/subscribers/m0@example.org/lists/weekly-review")
    lists = client.get("/api/lists").json()
    assert lists["total"] == 2 and lists["next"] is None
    weekly = next(item for item in lists["items"] if item["slug"] == "weekly-review")
    assert weekly["counts"] == {"pending": 2, "confirmed": 2, "unsubscribed": 1}
    assert weekly["double_opt_in"] is True and weekly["sections"] == ["culture"]
    one = client.get("/api/lists/weekly-review").json()
    assert one == weekly
    assert client.get("/api/lists/nope").status_code == 404
    page = client.get("/api/lists/weekly-review/subscribers", params={"per_page": 2}).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert [m["email"] for m in page["items"] + rest["items"]][:4] == [
        "m0@example.org",
        "m1@example.org",
        "m2@example.org",
        "m3@example.org",
    ]
    pending = client.get(
        "/api/lists/weekly-review/subscribers", params={"status": "pending"}
    ).json()
    assert [m["email"] for m in pending["items"]] == ["m3@example.org", "m4@example.org"]
    assert client.get("/api/lists/nope/subscribers").status_code == 404
    bad = client.get("/api/lists/weekly-review/subscribers", params={"status": "odd"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "query.status"


def wait_for(found, seconds: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.02)
    return found()
