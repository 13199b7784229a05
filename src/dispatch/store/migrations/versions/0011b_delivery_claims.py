"""delivery claims and hand-over marks; auto-resume; digest runs

Revision ID: 0011b
Revises: 0011a
Create Date: 2026-11-28

One send engine (issue 11): a runner claims ledger rows (`claimed_by`, `claim_expires_at`)
instead of leasing the whole campaign (`campaigns.runner`, `heartbeat_at` go), and commits
`handed_at` just before a message goes to the provider, so that only messages whose
outcome is really unknown count as in doubt (`deliveries.doubts`, summed per campaign,
replaces the campaign's own counter). A campaign paused by a provider's temporary fault
resumes by itself at `auto_resume_at`. `digest_runs` remembers what became of each
scheduled digest period. The `cancelled` delivery status needs no DDL (VARCHAR(16)).

Rows a crash left in `sending` before this revision are marked handed over (their outcome
is unknown), and each campaign's old in-doubt total is kept on its first delivery row, so
that the per-campaign sum stays what it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatch.store.types

revision = "0011b"
down_revision = "0011a"
branch_labels = None
depends_on = None

UTC_DATETIME = dispatch.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("claim_expires_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("handed_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(
            sa.Column("doubts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.execute("UPDATE deliveries SET handed_at = updated_at WHERE status = 'sending'")
    op.execute(
        "UPDATE deliveries SET doubts = (SELECT c.in_doubt FROM campaigns c "
        "WHERE c.id = deliveries.campaign_id) "
        "WHERE id IN (SELECT min(d.id) FROM deliveries d GROUP BY d.campaign_id)"
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_resume_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(
            sa.Column("auto_resumes", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.create_index(
            batch_op.f("ix_campaigns_auto_resume_at"), ["auto_resume_at"], unique=False
        )
        batch_op.drop_column("in_doubt")
        batch_op.drop_column("runner")
        batch_op.drop_column("heartbeat_at")
    op.create_table(
        "digest_runs",
        sa.Column("period_key", sa.String(length=200), nullable=False),
        sa.Column("list_slug", sa.String(length=100), nullable=False),
        sa.Column("scheduled_for", UTC_DATETIME, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_digest_runs_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("period_key", name=op.f("pk_digest_runs")),
    )
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_runs_list_slug"), ["list_slug"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_runs_list_slug"))
    op.drop_table("digest_runs")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("runner", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("in_doubt", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.drop_index(batch_op.f("ix_campaigns_auto_resume_at"))
        batch_op.drop_column("auto_resumes")
        batch_op.drop_column("auto_resume_at")
    op.execute(
        "UPDATE campaigns SET in_doubt = (SELECT coalesce(sum(d.doubts), 0) FROM deliveries d "
        "WHERE d.campaign_id = campaigns.id)"
    )
    op.execute("UPDATE deliveries SET status = 'skipped' WHERE status = 'cancelled'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("doubts")
        batch_op.drop_column("handed_at")
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
