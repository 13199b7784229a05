"""subscriber tags, segments, campaigns aimed at a segment

Revision ID: 0014a
Revises: 0012a
Create Date: 2026-11-28

- subscriber_tags: one row per subscriber and tag (lower-cased), primary key
  (subscriber_id, tag) plus an index (tag, subscriber_id) for "who carries X".
- segments: a saved filter over a list (name unique per list, the expression as written).
- campaigns.segment_id / segment_expression: the segment a campaign targets, and its
  expression copied when the campaign was created (what the recipients are frozen by).
- events (subscriber_id, type): "bounced never" and friends look up one person's
  events of one type.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0014a"
down_revision = "0015a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_tags",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_tags_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "tag", name=op.f("pk_subscriber_tags")),
    )
    op.create_index("ix_subscriber_tags_tag", "subscriber_tags", ["tag", "subscriber_id"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("created_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dispatch.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name=op.f("fk_segments_list_id_lists"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("list_id", "name", name="uq_segments_list_name"),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("segment_expression", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            "fk_campaigns_segment_id_segments",
            "segments",
            ["segment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_campaigns_segment_id", ["segment_id"], unique=False)
    op.create_index("ix_events_subscriber_type", "events", ["subscriber_id", "type"])


def downgrade() -> None:
    op.drop_index("ix_events_subscriber_type", table_name="events")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_segment_id")
        batch_op.drop_constraint("fk_campaigns_segment_id_segments", type_="foreignkey")
        batch_op.drop_column("segment_expression")
        batch_op.drop_column("segment_id")
    op.drop_table("segments")
    op.drop_index("ix_subscriber_tags_tag", table_name="subscriber_tags")
    op.drop_table("subscriber_tags")
