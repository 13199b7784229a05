"""Migration 0011b on a ledger written before it: every row kept (on SQLite the campaigns
table is rebuilt, which must not cascade into its deliveries), rows a crash left in
`sending` marked as handed over, each campaign's in-doubt total kept; and back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from dispatch.config import Settings
from dispatch.store import migrate
from dispatch.store.database import Database
from test_addresses_migration import insert


def rows(database: Database, sql: str) -> list[tuple[object, ...]]:
    with database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def test_the_ledger_survives_and_keeps_its_in_doubt_total(settings: Settings) -> None:
    database = Database(settings.database)
    migrate.upgrade(database.engine, "0011a")
    with database.engine.begin() as c:
        list_id = insert(c, "lists", slug="news", name="News", from_email="news@example.org")
        people = [insert(c, "subscribers", email=f"p{n}@example.org") for n in range(4)]
        campaign = insert(
            c,
            "campaigns",
            list_id=list_id,
            key="k1",
            kind="one_off",
            status="sending",
            subject="S",
            in_doubt=3,
            recipients_total=4,
        )
        other = insert(
            c,
            "campaigns",
            list_id=list_id,
            key="k2",
            kind="one_off",
            status="sent",
            subject="T",
            in_doubt=0,
            recipients_total=1,
        )
        statuses = ["sent", "sending", "pending", "failed"]
        for person, status in zip(people, statuses, strict=True):
            insert(
                c,
                "deliveries",
                campaign_id=campaign,
                subscriber_id=person,
                email=f"{person}@x",
                status=status,
            )
        insert(
            c, "deliveries", campaign_id=other, subscriber_id=people[0], email="o@x", status="sent"
        )

    migrate.upgrade(database.engine)

    ledger = rows(
        database,
        "SELECT campaign_id, status, handed_at IS NOT NULL, doubts FROM deliveries ORDER BY id",
    )
    assert [(c, s, h) for c, s, h, _ in ledger] == [
        (campaign, "sent", False),
        (campaign, "sending", True),  # a crash left it there: its outcome is unknown
        (campaign, "pending", False),
        (campaign, "failed", False),
        (other, "sent", False),
    ]
    totals = rows(
        database,
        "SELECT campaign_id, sum(doubts) FROM deliveries GROUP BY campaign_id ORDER BY campaign_id",
    )
    assert totals == [(campaign, 3), (other, 0)]
    columns = {c["name"] for c in sa.inspect(database.engine).get_columns("campaigns")}
    assert {"in_doubt", "runner", "heartbeat_at"}.isdisjoint(columns)
    assert {"auto_resume_at", "auto_resumes"} <= columns

    command.downgrade(migrate.alembic_config(database.engine), "0011a")
    assert rows(database, "SELECT id, in_doubt FROM campaigns ORDER BY id") == [
        (campaign, 3),
        (other, 0),
    ]
    assert len(rows(database, "SELECT id FROM deliveries")) == 5
    database.dispose()
