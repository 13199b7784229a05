"""subscriber ids never reused, link keys; editor sessions; the audit log

Revision ID: 0015a
Revises: 0012a
Create Date: 2026-11-28

Identity that cannot be inherited (issue 15):
- SQLite reused the highest subscriber id after a delete (no AUTOINCREMENT), so the
  links of an erased person opened the next sign-up's preferences. The table is rebuilt
  with AUTOINCREMENT, and its sequence starts past every id ever seen (merged ids kept
  in `subscriber_merges` included). PostgreSQL sequences never hand an id out twice.
- `subscribers.token_key`: a random key per person that every new link token carries
  (`dispatch.tokens`); erasing the person erases the key, so their links die with them.
- `subscribers.legacy_links`: true for the people stored before this revision, whose
  mail carries tokens without a key; those keep working for them (and only for them:
  ids are never reused from here on). People stored later never accept one. An id that
  SQLite had already handed to a second person before this revision cannot be told
  apart: the first holder's keyless links still reach the second (new mail carries keys).

Sessions and audit (issue 15): `editor_sessions` is the server-side record of each admin
login (logout and a new password delete rows, so a cookie dies at once); `audit_log`
records editors' actions.

Downgrading drops the tables and columns; SQLite keeps AUTOINCREMENT (harmless).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0015a"
down_revision = "0012a"
branch_labels = None
depends_on = None

UTC_DATETIME = dispatch.store.types.UTCDateTime(timezone=True)
BATCH = 1000


def upgrade() -> None:
    _subscribers()
    op.create_table(
        "editor_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_editor_sessions_editor_id_editors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_sessions")),
    )
    with op.batch_alter_table("editor_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_editor_sessions_editor_id"), ["editor_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_audit_log_editor_id_editors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"])
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"])
        batch_op.create_index(batch_op.f("ix_audit_log_editor_id"), ["editor_id"])


def _subscribers() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch:
        batch.add_column(sa.Column("token_key", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("legacy_links", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _fill_keys()
    sqlite = op.get_bind().dialect.name == "sqlite"
    # One rebuild on SQLite, with AUTOINCREMENT (reflection would not carry it over).
    kwargs = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}}
    with op.batch_alter_table("subscribers", schema=None, **(kwargs if sqlite else {})) as batch:
        batch.alter_column("token_key", existing_type=sa.String(length=32), nullable=False)
    if sqlite:
        _sqlite_sequence_past_every_id()


def _sqlite_sequence_past_every_id() -> None:
    """AUTOINCREMENT only guarantees ids above the highest one *it* handed out: start it
    past every id a link may still name (kept rows and merged ones)."""
    bind = op.get_bind()
    highest = bind.execute(
        sa.text(
            "SELECT max(coalesce((SELECT max(id) FROM subscribers), 0),"
            " coalesce((SELECT max(merged_id) FROM subscriber_merges), 0))"
        )
    ).scalar_one()
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'subscribers'"))
    bind.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('subscribers', :seq)"),
        {"seq": int(highest)},
    )


def _fill_keys() -> None:
    """Every stored person gets a key and keeps accepting the keyless links already sent."""
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM subscribers ORDER BY id"))]
    statement = sa.text(
        "UPDATE subscribers SET token_key = :key, legacy_links = :legacy WHERE id = :id"
    )
    for start in range(0, len(ids), BATCH):
        rows = [
            {"id": i, "key": secrets.token_urlsafe(12), "legacy": True}
            for i in ids[start : start + BATCH]
        ]
        bind.execute(statement, rows)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_editor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
    op.drop_table("audit_log")
    with op.batch_alter_table("editor_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_editor_sessions_editor_id"))
    op.drop_table("editor_sessions")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("legacy_links")
        batch_op.drop_column("token_key")
