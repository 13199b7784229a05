from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import update

from dispatch.store.database import Database
from dispatch.store.models import Subscription, SubscriptionStatus
from dispatch.subscribers import export_subscribers, export_to_file, import_subscribers
from test_subscribers_import import LIST, copy, people, write

OTHER = "weekly-review"


def exported(db: Database, slug: str = LIST, status: str = "all") -> list[dict[str, str]]:
    out = io.StringIO()
    with db.session() as session:
        export_subscribers(session, slug, out, status)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_columns_are_fixed_then_attributes_in_order_of_first_appearance(
    db: Database, tmp_path: Path
) -> None:
    import_subscribers(db, copy("people.csv", tmp_path), LIST)
    rows = exported(db)
    assert list(rows[0]) == ["email", "name", "status", "subscribed_at", "city", "plan"]
    assert [row["email"] for row in rows] == [
        "ann@example.com",
        "bob@example.org",
        "carol@example.net",
    ]
    assert rows[1] == rows[1] | {"name": "Bob Baker", "status": "pending", "plan": "free"}
    assert rows[0]["subscribed_at"].endswith("+00:00")


def test_status_filter(db: Database, tmp_path: Path) -> None:
    import_subscribers(db, write(tmp_path, "email\na@example.com\nb@example.com\n"), LIST)
    import_subscribers(db, write(tmp_path, "email\nb@example.com\n"), LIST, confirmed=True)
    assert [row["email"] for row in exported(db, status="confirmed")] == ["b@example.com"]
    assert [row["email"] for row in exported(db, status="pending")] == ["a@example.com"]
    assert exported(db, status="unsubscribed") == []
    with db.session() as session, pytest.raises(ValueError, match="status must be one of"):
        export_subscribers(session, LIST, io.StringIO(), "gone")


def test_round_trip_into_another_list_gives_the_same_people(db: Database, tmp_path: Path) -> None:
    import_subscribers(db, copy("people.csv", tmp_path), LIST)
    import_subscribers(db, copy("excel-bom-crlf.csv", tmp_path), LIST, confirmed=True)
    with db.session() as session:
        session.execute(
            update(Subscription)
            .values(status=SubscriptionStatus.UNSUBSCRIBED)
            .where(Subscription.subscriber_id == 3)
        )
    path = tmp_path / "export.csv"
    with db.session() as session:
        assert export_to_file(session, LIST, path) == 4
    summary = import_subscribers(db, path, OTHER)
    assert (summary.rows, summary.unsubscribed, summary.rejected) == (4, 1, 0)
    source = {k: v for k, v in people(db, LIST).items() if v["status"] != "unsubscribed"}
    target = people(db, OTHER)
    assert set(target) == set(source)
    for email, person in target.items():
        assert (person["name"], person["attributes"]) == (
            source[email]["name"],
            source[email]["attributes"],
        )
    assert not list(tmp_path.glob(".*.tmp"))
