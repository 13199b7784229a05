"""upstream_sources

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

The polling state of each configured upstream RSS/Atom feed: the URL it is fetched at
now (301/308 move it), the validators of the last response (ETag, Last-Modified) for
conditional GET, retirement after 410, and the failure count behind the back-off.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=2000), nullable=False),
        sa.Column("config_url", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "retired", name="upstreamstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_sources")),
        sa.UniqueConstraint("key", name=op.f("uq_upstream_sources_key")),
    )
    with op.batch_alter_table("upstream_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_upstream_sources_next_poll_at"), ["next_poll_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("upstream_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upstream_sources_next_poll_at"))
    op.drop_table("upstream_sources")
