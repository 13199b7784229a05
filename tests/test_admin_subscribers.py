"""Admin lists and subscribers: counts, search, add, CSV upload (errors per line),
export, suppress, erase."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Suppression
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-subscribers-secret")


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def test_lists_show_counts_and_people_page_and_search(admin: Admin, db: Database) -> None:
    add_subscribers(db, LIST, 60)
    page = admin.get("/admin/lists")
    assert page.status_code == 200 and "Morning Briefing" in page.text and ">60<" in page.text
    first = admin.get(f"/admin/lists/{LIST}")
    assert "Page 1 of 2" in first.text and "user0@example.com" in first.text
    second = admin.get(f"/admin/lists/{LIST}?page=2")
    assert "Page 2 of 2" in second.text and "user0@example.com" not in second.text
    found = admin.get(f"/admin/lists/{LIST}?q=USER42@")
    assert "user42@example.com" in found.text and "user41@example.com" not in found.text


def test_add_and_refuse_a_suppressed_address(admin: Admin, db: Database) -> None:
    added = admin.post(f"/admin/lists/{LIST}/add", {"email": "New@Example.com", "name": "New"})
    assert added.status_code == 303 and "notice=added" in added.headers["location"]
    assert "new@example.com" in admin.get(added.headers["location"]).text
    admin.post("/admin/subscribers/suppress", {"email": "gone@example.com", "back": "/admin/lists"})
    refused = admin.post(f"/admin/lists/{LIST}/add", {"email": "gone@example.com"})
    assert refused.status_code == 409 and "suppressed" in refused.text
    bad = admin.post(f"/admin/lists/{LIST}/add", {"email": "not an address"})
    assert bad.status_code == 400


def finished(admin: Admin, location: str) -> str:
    """The import page once its job has finished (it runs in a thread)."""
    for _ in range(200):
        page = admin.get(location)
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        time.sleep(0.05)
    raise AssertionError(f"{location} never finished")


def test_csv_upload_reports_each_bad_line(admin: Admin, db: Database) -> None:
    body = (
        "email,name,city\nann@example.com,Ann,Porto\nnot-an-address,Bad,X\n\nbob@example.com,Bob\n"
    )
    upload = {"file": ("people.csv", body.encode(), "text/csv")}
    started = admin.post(f"/admin/lists/{LIST}/import", {"confirmed": "1"}, files=upload)
    assert started.status_code == 303 and started.headers["location"].startswith("/admin/imports/")
    page = finished(admin, started.headers["location"])
    assert "people.csv:3: " in page and "Rows read: 3" in page
    assert "people.csv:5: expected 3 columns, found 2" in page
    assert "2 line(s) could not be imported" in page
    with db.session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert emails == {"ann@example.com"}
    header = admin.post(
        f"/admin/lists/{LIST}/import", files={"file": ("x.csv", b"name\nAnn\n", "text/csv")}
    )
    page = finished(admin, header.headers["location"])
    assert "Not imported" in page and "x.csv:1: bad header" in page
    clean = admin.post(
        f"/admin/lists/{LIST}/import",
        files={"file": ("ok.csv", b"email\ncid@example.com\n", "text/csv")},
    )
    page = finished(admin, clean.headers["location"])
    assert "Done" in page and "Subscribed: 1 (pending)" in page


def test_export_downloads_the_list_as_csv(admin: Admin, db: Database) -> None:
    add_subscribers(db, LIST, 3)
    response = admin.get(f"/admin/lists/{LIST}/export.csv?status=confirmed")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["email"] for row in rows] == [f"user{i}@example.com" for i in range(3)]
    assert rows[0]["city"] == "Lisbon"
    assert admin.get(f"/admin/lists/{LIST}/export.csv?status=nope").status_code == 400


def test_suppress_and_erase_a_person(admin: Admin, db: Database) -> None:
    add_subscribers(db, LIST, 2)
    back = f"/admin/lists/{LIST}"
    done = admin.post("/admin/subscribers/suppress", {"email": "user0@example.com", "back": back})
    assert done.headers["location"] == f"{back}?notice=suppressed"
    assert "suppressed</span>" in admin.get(back).text
    again = admin.post("/admin/subscribers/suppress", {"email": "user0@example.com", "back": back})
    assert "already-suppressed" in again.headers["location"]
    erased = admin.post("/admin/subscribers/delete", {"email": "user0@example.com", "back": back})
    assert erased.headers["location"] == f"{back}?notice=erased"
    with db.session() as session:
        assert (
            session.scalar(select(Subscriber).where(Subscriber.email == "user0@example.com"))
            is None
        )
        assert session.scalar(select(Suppression.email)) is None
    missing = admin.post("/admin/subscribers/delete", {"email": "nobody@example.com"})
    assert missing.status_code == 404
    outside = admin.post(
        "/admin/subscribers/suppress", {"email": "x@example.com", "back": "//evil"}
    )
    assert outside.headers["location"].startswith("/admin/lists?")
