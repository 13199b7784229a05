"""events.subscriber_id and events.detail

Revision ID: 0012a
Revises: 0013a
Create Date: 2026-12-01

Bounces and complaints are kept on the subscriber they concern (erasing the subscriber
erases them) with the diagnostic text the report gave ("550 5.1.1 user unknown").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012a"
down_revision = "0013a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscriber_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            "fk_events_subscriber_id_subscribers",
            "subscribers",
            ["subscriber_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_events_subscriber_id", ["subscriber_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_subscriber_id")
        batch_op.drop_constraint("fk_events_subscriber_id_subscribers", type_="foreignkey")
        batch_op.drop_column("detail")
        batch_op.drop_column("subscriber_id")
