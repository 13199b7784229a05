"""subscriptions.confirmed_via: subscriptions an import confirmed (no welcome series)

Revision ID: 0016a
Revises: 0014c
Create Date: 2026-11-29

Subscriptions confirmed before this revision keep NULL: the welcome series only looks
back `welcome.MAX_LATE` (30 days), and an import of that age has had its chance.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016a"
down_revision = "0014c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("confirmed_via", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("confirmed_via")
