"""addresses in one normal form; subscribers that become equal merged

Revision ID: 0011a
Revises: 0007
Create Date: 2026-11-29

Addresses are now stored lower-case with the domain in Unicode, and look-alikes are
refused (`subscribers.addresses`). This brings existing rows to that form
(`subscribers.renormalise`): `Ann@example.org` and `ann@example.org` become one
subscriber, keeping the most protective status on each list; `x@xn--bcher-kva.example`
becomes `x@bücher.example`. Rows that are not usable addresses are left and logged.

`subscriber_merges` remembers merged ids, so that links in mail already sent act on
the subscriber kept. `deliveries.subscriber_id` gets an index: merging (and erasing) a
subscriber finds their ledger rows without reading the whole table.

Downgrading drops the table and the index; addresses stay in the normal form, which
the older code reads as any other address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types
from dispatch.store.types import utcnow
from dispatch.subscribers.renormalise import renormalise

revision = "0011a"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_merges",
        sa.Column("merged_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("merged_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_merges_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merged_id", name=op.f("pk_subscriber_merges")),
    )
    with op.batch_alter_table("subscriber_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_merges_subscriber_id"), ["subscriber_id"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_subscriber_id"), ["subscriber_id"], unique=False
        )
    renormalise(op.get_bind(), utcnow())


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_subscriber_id"))
    with op.batch_alter_table("subscriber_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_merges_subscriber_id"))
    op.drop_table("subscriber_merges")
