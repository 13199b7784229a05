"""subscriptions.confirmation_sent_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

When the last confirmation mail for a pending subscription was sent: a flood of
sign-ups naming one address sends at most one confirmation per hour and list. Indexed:
the check for another spelling of the same mailbox only reads the last hour's rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "confirmation_sent_at",
                dispatch.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_subscriptions_confirmation_sent_at"),
            ["confirmation_sent_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_confirmation_sent_at"))
        batch_op.drop_column("confirmation_sent_at")
