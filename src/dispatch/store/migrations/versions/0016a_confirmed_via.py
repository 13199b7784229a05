"""subscriptions.confirmed_via (an import confirmed it: no welcome series);
subscription_stamps (earlier confirmation and unsubscribe times, for growth charts)

Revision ID: 0016a
Revises: 0014c
Create Date: 2026-11-29

Subscriptions confirmed before this revision keep NULL: the welcome series only looks
back `welcome.MAX_LATE` (30 days), and an import of that age has had its chance.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0016a"
down_revision = "0014c"
branch_labels = None
depends_on = None


UTC = dispatch.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("confirmed_via", sa.String(length=16), nullable=True))
    op.create_table(
        "subscription_stamps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_subscription_stamps_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name="fk_subscription_stamps_list_id_lists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_stamps"),
    )
    with op.batch_alter_table("subscription_stamps") as batch:
        batch.create_index("ix_subscription_stamps_kind_at", ["kind", "at"], unique=False)
        batch.create_index("ix_subscription_stamps_subscriber_id", ["subscriber_id"], unique=False)


def downgrade() -> None:
    op.drop_table("subscription_stamps")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("confirmed_via")
