"""Admin segments: a list's segments with counts, create with the parse error shown at
its column, count without saving, edit, delete; a campaign composed for a segment."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign, Segment, Subscriber
from dispatch.subscribers.tags import apply_tags, tags_of
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-segments-secret")


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    emails = add_subscribers(db, LIST, 5)
    with db.session() as session:
        ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(emails[:2])))
        apply_tags(session, {person: ["weekly"] for person in ids})
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def test_create_count_edit_delete(admin: Admin, db: Database) -> None:
    page = admin.get(f"/admin/lists/{LIST}/segments")
    assert page.status_code == 200 and "No segments yet." in page.text
    counted = admin.post(
        f"/admin/lists/{LIST}/segments",
        {"name": "", "expression": 'not tag = "weekly"', "action": "count"},
    )
    assert counted.status_code == 200 and "Selects 3 confirmed" in counted.text
    saved = admin.post(
        f"/admin/lists/{LIST}/segments",
        {"name": "Weekly", "expression": 'tag = "Weekly"', "action": "save"},
    )
    assert saved.status_code == 303
    listed = admin.get(saved.headers["location"]).text
    assert "Weekly" in listed and '<td class="num">2</td>' in listed
    with db.session() as session:
        segment_id = session.scalars(select(Segment.id)).one()
    edit = admin.get(f"/admin/segments/{segment_id}")
    assert "Selects 2 confirmed" in edit.text
    changed = admin.post(
        f"/admin/segments/{segment_id}",
        {"name": "Everyone", "expression": "bounced never", "action": "save"},
    )
    assert changed.status_code == 303
    assert "Selects 5 confirmed" in admin.get(changed.headers["location"]).text
    gone = admin.post(f"/admin/segments/{segment_id}/delete")
    assert gone.status_code == 303
    with db.session() as session:
        assert session.scalars(select(Segment)).all() == []


def test_a_parse_error_is_shown_with_the_text_kept(admin: Admin, db: Database) -> None:
    typed = 'tag = "a" or attr.city = "<b>Lisbon</b>" ; --'
    answer = admin.post(
        f"/admin/lists/{LIST}/segments", {"name": "Bad", "expression": typed, "action": "save"}
    )
    assert answer.status_code == 400
    shown = html.unescape(answer.text)
    assert 'column 42: unexpected ";"' in shown
    assert typed in shown  # the expression as typed stays in the form
    assert "<b>Lisbon</b>" not in answer.text  # escaped, never markup
    assert " " * 41 + "^" in answer.text
    with db.session() as session:
        assert session.scalars(select(Segment)).all() == []


def test_compose_for_a_segment_shows_its_count_before_sending(admin: Admin, db: Database) -> None:
    add_article(db, "story", title="Story")
    admin.post(
        f"/admin/lists/{LIST}/segments",
        {"name": "Weekly", "expression": 'tag = "weekly"', "action": "save"},
    )
    new = admin.get("/admin/campaigns/new").text
    assert "only the segment “Weekly” of morning-briefing (2 now)" in new
    made = admin.post(
        "/admin/campaigns/new", {"list": LIST, "article": "story", "segment": f"{LIST}/Weekly"}
    )
    assert made.status_code == 303, made.text
    page = admin.get(made.headers["location"]).text
    assert "Send now to 2 recipients" in page
    assert "only the segment “Weekly”" in page
    with db.session() as session:
        assert session.scalars(select(Campaign.segment_expression)).one() == 'tag = "weekly"'
    wrong = admin.post(
        "/admin/campaigns/new",
        {"list": "weekly-review", "article": "story", "segment": f"{LIST}/Weekly"},
    )
    assert wrong.status_code == 400 and "is not of the list weekly-review" in wrong.text


def test_adding_a_subscriber_with_tags(admin: Admin, db: Database) -> None:
    added = admin.post(
        f"/admin/lists/{LIST}/add",
        {"email": "new@example.org", "name": "New", "tags": "Lisbon; weekly,", "confirmed": "1"},
    )
    assert added.status_code == 303, added.text
    bad = admin.post(f"/admin/lists/{LIST}/add", {"email": "x@example.org", "tags": "a\x07b"})
    assert bad.status_code == 400 and "control character" in bad.text
    with db.session() as session:
        person = session.scalars(select(Subscriber).where(Subscriber.email == "new@example.org"))
        tags = tags_of(session, person.one().id)
        assert session.scalar(select(Subscriber).where(Subscriber.email == "x@example.org")) is None
    assert tags == ["lisbon", "weekly"]
