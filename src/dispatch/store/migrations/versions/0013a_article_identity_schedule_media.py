"""articles: identity, editors' decisions, scheduling, feature image alt

Revision ID: 0013a
Revises: 0011b
Create Date: 2026-12-01

- articles.source_path / fingerprint: an imported file that moves stays the same article.
- articles.source_hash / edited_at: the source version last seen, and when an editor last
  changed the article (a changed source then waits as a conflict). Existing rows start
  with source_hash = content_hash: nothing they hold was edited yet.
- articles.send_to: lists that get the article when the scheduler publishes it.
- articles.image_alt: the feature image's alt text.
- article_tombstones, article_conflicts: deleted imports and changed sources waiting
  for an editor.
The new article status "scheduled" needs no DDL (the enum is a plain string column).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dispatch.store.types

revision = "0013a"
down_revision = "0011b"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = dispatch.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_alt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("edited_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("send_to", JSON, nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_fingerprint"), ["fingerprint"], unique=False)
    op.execute("UPDATE articles SET source_hash = content_hash")
    op.create_table(
        "article_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("deleted_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_tombstones")),
        sa.UniqueConstraint("source", "source_id", name="uq_article_tombstones_source"),
    )
    op.create_table(
        "article_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("detected_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_conflicts_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_conflicts")),
        sa.UniqueConstraint("source", "source_id", name="uq_article_conflicts_source"),
    )
    with op.batch_alter_table("article_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_conflicts_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("article_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_conflicts_article_id"))
    op.drop_table("article_conflicts")
    op.drop_table("article_tombstones")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_fingerprint"))
        for name in ("send_to", "edited_at", "source_hash", "fingerprint", "source_path"):
            batch_op.drop_column(name)
        batch_op.drop_column("image_alt")
