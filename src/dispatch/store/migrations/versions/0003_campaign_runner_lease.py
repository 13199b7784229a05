"""campaign runner lease; skipped deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

`campaigns.runner` + `campaigns.heartbeat_at` say which process is sending a campaign,
so that a resume (or `campaigns run-due`) never competes with a live runner. The
`skipped` delivery status needs no DDL: the enum is stored as VARCHAR(16).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runner", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "heartbeat_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("runner")
