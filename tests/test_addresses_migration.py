"""Migration 0011a on a store filled before it: addresses rewritten to the normal form,
subscribers that become equal merged (most protective status, ledger and events moved),
suppressions merged, rows that are no address left and logged; old links still work."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from typer.testing import Result

from dispatch.config import Settings
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.subscribers import optin
from dispatch.subscribers.renormalise import renormalise
from dispatch.tokens import ListClaim, PersonClaim
from support.api import SECRET, api_client

OLD, NEWER, NEWEST = (datetime(year, 1, 1, tzinfo=UTC) for year in (2024, 2025, 2026))
LEFT = ["ｖictim@example.com", "not-an-address", "bad suppression"]


def before_0011a() -> str:
    revision = ScriptDirectory(str(migrate.MIGRATIONS)).get_revision("0011a")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def insert(connection: Connection, table_name: str, /, **values: Any) -> int | None:
    """A row as code before 0011a could have written it; NOT NULL columns it does not
    name get a plain value of their type (whatever later migrations added)."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and isinstance(column.type, sa.Integer):
            continue
        values[column.name] = _plain(column.type)
    result = connection.execute(table.insert().values(**values))
    key = result.inserted_primary_key
    return key[0] if key and isinstance(key[0], int) else None


def _plain(kind: sa.types.TypeEngine[Any]) -> Any:
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.DateTime):
        return datetime(2024, 1, 1)
    if isinstance(kind, sa.JSON):
        return {}
    return ""


@pytest.fixture
def old_store(settings: Settings) -> Iterator[tuple[Database, dict[str, int]]]:
    database = Database(settings.database)
    migrate.upgrade(database.engine, before_0011a())
    with database.engine.begin() as connection:
        ids = fill(connection)
    yield database, ids
    database.dispose()


def fill(c: Connection) -> dict[str, int]:
    ids: dict[str, Any] = {}
    for slug in ("morning", "weekly"):
        ids[slug] = insert(c, "lists", slug=slug, name=slug, from_email=f"{slug}@example.org")
    people = [
        ("ann1", "Ann@Example.org", "Ann", {"city": "Leeds", "plan": "free"}, NEWER),
        ("ann2", "ann@example.org", "", {"plan": "supporter"}, NEWEST),
        ("ann3", "ANN@EXAMPLE.ORG", "Annie", {}, OLD),
        ("x", "x@xn--bcher-kva.example", "", {}, OLD),
        ("victim", "ｖictim@example.com", "", {}, OLD),
        ("bob", "bob@example.org", "Bob", {}, OLD),
        ("carol", "Carol@Example.org", "", {}, OLD),
        ("junk", "not-an-address", "", {}, OLD),
    ]
    for key, email, name, attributes, updated in people:
        ids[key] = insert(
            c,
            "subscribers",
            email=email,
            name=name,
            attributes=attributes,
            created_at=updated,
            updated_at=updated,
        )
    for person, slug, status in [
        ("ann1", "morning", "confirmed"),
        ("ann2", "morning", "unsubscribed"),
        ("ann3", "morning", "pending"),
        ("ann1", "weekly", "pending"),
        ("ann3", "weekly", "confirmed"),
        ("bob", "morning", "confirmed"),
    ]:
        insert(c, "subscriptions", subscriber_id=ids[person], list_id=ids[slug], status=status)
    for email, reason, created in [
        ("Dave@Example.org", "bounce", OLD),
        ("dave@example.org", "complaint", NEWER),
        ("Eve@XN--BCHER-KVA.example", "operator", OLD),
        ("ANN@example.org", "bounce", OLD),
        ("bad suppression", "operator", OLD),
    ]:
        insert(c, "suppressions", email=email, reason=reason, created_at=created)
    for key, total in (("c1", 3), ("c2", 2)):
        ids[key] = insert(
            c, "campaigns", key=key, list_id=ids["morning"], kind="one_off", subject=key,
            status="sent", recipients_total=total,
        )  # fmt: skip
    for key, campaign, person, email, status in [
        ("d1", "c1", "ann1", "Ann@Example.org", "sent"),
        ("d2", "c1", "ann2", "ann@example.org", "pending"),
        ("d3", "c1", "bob", "bob@example.org", "sent"),
        ("d4", "c2", "ann2", "ann@example.org", "bounced"),
        ("d5", "c2", "ann3", "ANN@EXAMPLE.ORG", "sent"),
        ("d6", "c2", None, "Tester@XN--BCHER-KVA.example", "sent"),
        ("d7", "c2", "x", "x@xn--bcher-kva.example", "sent"),
    ]:
        ids[key] = insert(
            c, "deliveries", campaign_id=ids[campaign], email=email, status=status,
            subscriber_id=ids[person] if person else None,
        )  # fmt: skip
    for key, delivery in (("e1", "d5"), ("e2", "d2")):
        insert(c, "events", provider="sendgrid", provider_event_id=key, type="opened",
               delivery_id=ids[delivery], campaign_id=ids["c1"])  # fmt: skip
    return ids


def rows(database: Database, query: str) -> list[tuple[Any, ...]]:
    with database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_upgrade_normalises_merges_and_reports(
    old_store: tuple[Database, dict[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    database, ids = old_store
    caplog.set_level(logging.INFO, logger="dispatch.subscribers.renormalise")

    migrate.upgrade(database.engine)

    people = rows(database, "SELECT id, email, name, attributes FROM subscribers ORDER BY id")
    ann = ids["ann3"]  # the highest id of the three is kept
    assert [(pid, email) for pid, email, *_ in people] == [
        (ann, "ann@example.org"),
        (ids["x"], "x@bücher.example"),
        (ids["victim"], "ｖictim@example.com"),  # left as it was
        (ids["bob"], "bob@example.org"),
        (ids["carol"], "carol@example.org"),
        (ids["junk"], "not-an-address"),
    ]
    name, attributes = people[0][2], people[0][3]
    if isinstance(attributes, str):  # SQLite's JSON comes back as text through sa.text
        attributes = json.loads(attributes)
    assert name == "Ann" and attributes == {"city": "Leeds", "plan": "supporter"}
    statuses = rows(database, "SELECT subscriber_id, list_id, status FROM subscriptions")
    assert sorted(statuses) == sorted(
        [
            (ann, ids["morning"], "unsubscribed"),  # unsubscribed wins over confirmed, pending
            (ann, ids["weekly"], "confirmed"),  # confirmed wins over pending
            (ids["bob"], ids["morning"], "confirmed"),
        ]
    )
    assert sorted(rows(database, "SELECT merged_id, subscriber_id FROM subscriber_merges")) == [
        (ids["ann1"], ann),
        (ids["ann2"], ann),
    ]
    ledger = rows(database, "SELECT id, campaign_id, subscriber_id, email, status FROM deliveries")
    assert sorted(ledger) == sorted(
        [
            (ids["d1"], ids["c1"], ann, "ann@example.org", "sent"),  # sent beats pending
            (ids["d3"], ids["c1"], ids["bob"], "bob@example.org", "sent"),
            (ids["d4"], ids["c2"], ann, "ann@example.org", "bounced"),  # bounced beats sent
            (ids["d6"], ids["c2"], None, "tester@bücher.example", "sent"),
            (ids["d7"], ids["c2"], ids["x"], "x@bücher.example", "sent"),
        ]
    )
    assert sorted(rows(database, "SELECT provider_event_id, delivery_id FROM events")) == [
        ("e1", ids["d4"]),
        ("e2", ids["d1"]),
    ]
    totals = dict(rows(database, "SELECT id, recipients_total FROM campaigns"))
    assert totals == {ids["c1"]: 2, ids["c2"]: 1}
    suppressions = rows(database, "SELECT email, reason FROM suppressions ORDER BY email")
    assert sorted(suppressions) == sorted(
        [
            ("ann@example.org", "bounce"),
            ("bad suppression", "operator"),
            ("dave@example.org", "bounce"),  # the older of the two
            ("eve@bücher.example", "operator"),
        ]
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all(any(v in w for w in warnings) for v in LEFT)
    assert any("FULLWIDTH LATIN SMALL LETTER V" in w for w in warnings)
    assert (
        "2 subscribers rewritten, 2 merged into another; 2 suppressions rewritten, 1 merged;"
        " 1 test-send deliveries rewritten; 3 rows left" in caplog.text
    )


def test_links_to_a_merged_subscriber_act_on_the_one_kept(
    old_store: tuple[Database, dict[str, int]],
) -> None:
    database, ids = old_store
    migrate.upgrade(database.engine)
    with database.session() as session:
        assert optin.current_id(session, ids["ann1"]) == ids["ann3"]
        assert optin.current_id(session, ids["bob"]) == ids["bob"]
        outcome = optin.unsubscribe(session, ListClaim(ids["ann1"], "weekly"), utcnow())
        shown = optin.load_preferences(session, PersonClaim(ids["ann2"]), ["morning", "weekly"])
    assert outcome == "unsubscribed"
    assert shown.subscriber_id == ids["ann3"] and shown.email == "ann@example.org"
    assert shown.suppressed and not any(choice.chosen for choice in shown.lists)


def test_running_it_again_changes_nothing(old_store: tuple[Database, dict[str, int]]) -> None:
    database, _ = old_store
    migrate.upgrade(database.engine)
    before = rows(database, "SELECT id, email FROM subscribers ORDER BY id")
    with database.engine.begin() as connection:
        again = renormalise(connection, utcnow())
    assert (again.rewritten, again.merged, again.suppressions_rewritten) == (0, 0, 0)
    assert (again.suppressions_merged, again.deliveries_rewritten, again.left) == (0, 0, 3)
    assert rows(database, "SELECT id, email FROM subscribers ORDER BY id") == before


def test_downgrade_keeps_the_normal_forms(old_store: tuple[Database, dict[str, int]]) -> None:
    database, _ = old_store
    migrate.upgrade(database.engine)
    command.downgrade(migrate.alembic_config(database.engine), before_0011a())
    assert "subscriber_merges" not in sa.inspect(database.engine).get_table_names()
    emails = {email for (email,) in rows(database, "SELECT email FROM subscribers")}
    assert {"ann@example.org", "x@bücher.example"} <= emails


def test_db_upgrade_says_what_it_merged_and_left(
    old_store: tuple[Database, dict[str, int]], cli: Callable[..., Result]
) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "migration: addresses normalised: 2 subscribers rewritten, 2 merged" in result.output
    assert "migration: left subscribers row 'not-an-address' as it is" in result.output
    assert "migration: left suppressions row 'bad suppression' as it is" in result.output


def test_the_api_finds_a_merged_subscriber_by_its_old_id(
    old_store: tuple[Database, dict[str, int]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database, ids = old_store
    migrate.upgrade(database.engine)
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)
    with api_client(settings, database) as client:
        found = client.get(f"/api/subscribers/{ids['ann1']}")
        by_old_spelling = client.get("/api/subscribers/Ann@Example.org")
    assert found.status_code == 200 and found.json()["id"] == ids["ann3"]
    assert by_old_spelling.json()["id"] == ids["ann3"]
    assert found.json()["email"] == "ann@example.org" and found.json()["suppressed"] is True
