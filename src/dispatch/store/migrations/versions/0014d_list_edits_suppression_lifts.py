"""lists.edited_at and suppression_lifts

Revision ID: 0014d
Revises: 0012a
Create Date: 2026-11-28

After `dispatch init` the `lists` table is the truth: `edited_at` marks a list an editor
changed in the admin or with `dispatch lists edit`, and `dispatch init` never overwrites
such a list from config.toml again. `suppression_lifts` records who lifted which
suppression, when, and why (the reason is required).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dispatch.store.types import UTCDateTime

revision = "0014d"
down_revision = "0014a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "suppression_lifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("previous_reason", sa.String(length=50), nullable=False),
        sa.Column("suppressed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lifted_by", sa.String(length=320), nullable=False),
        sa.Column("lifted_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_lifts")),
    )
    op.create_index("ix_suppression_lifts_email", "suppression_lifts", ["email"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_suppression_lifts_email", table_name="suppression_lifts")
    op.drop_table("suppression_lifts")
    with op.batch_alter_table("lists", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
