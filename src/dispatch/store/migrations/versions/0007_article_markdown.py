"""articles.body_markdown

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

The Markdown an editor wrote in the admin (or sent through the API), kept so that the
article can be edited again as written. NULL for articles imported from files or
upstream feeds: their source is elsewhere, and a re-import replaces them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_markdown", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("body_markdown")
