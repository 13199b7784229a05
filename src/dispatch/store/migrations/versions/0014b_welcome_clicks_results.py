"""Welcome series, click tracking and campaign results

Revision ID: 0014b
Revises: 0012a
Create Date: 2026-12-02

- `campaigns.welcome_step` / `campaigns.template`: a welcome step's campaign.
- `welcome_steps`: each step as first seen (by its stable key).
- `welcome_sends`: (list, subscriber, step key) unique — a step at most once per person.
- `campaign_links` / `link_clicks`: tracked links of a campaign, clicks per link, and
  per person (once per link) where the operator turned that on.
- `unsubscribes`: each unsubscribe, with the campaign its link came from.
- `ix_subscriptions_list_confirmed_at`: the series finds who came due without a scan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dispatch.store.types import UTCDateTime as _UTCDateTime

UTC = _UTCDateTime(timezone=True)

revision = "0014b"
down_revision = "0014d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_subscriptions_list_confirmed_at", "subscriptions", ["list_id", "confirmed_at"]
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("welcome_step", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("template", sa.String(length=64), nullable=True))
    op.create_table(
        "welcome_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("first_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name="fk_welcome_steps_list_id_lists", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_welcome_steps"),
        sa.UniqueConstraint("list_id", "key", name="uq_welcome_steps_list_key"),
    )
    op.create_table(
        "welcome_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(length=100), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name="fk_welcome_sends_list_id_lists", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_welcome_sends_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_welcome_sends_campaign_id_campaigns",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_welcome_sends"),
        sa.UniqueConstraint(
            "list_id", "subscriber_id", "step_key", name="uq_welcome_sends_list_subscriber_step"
        ),
    )
    op.create_index("ix_welcome_sends_subscriber_id", "welcome_sends", ["subscriber_id"])
    op.create_index("ix_welcome_sends_campaign_id", "welcome_sends", ["campaign_id"])
    op.create_table(
        "campaign_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_campaign_links_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_links"),
        sa.UniqueConstraint("campaign_id", "position", name="uq_campaign_links_campaign_position"),
    )
    op.create_table(
        "link_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("clicked_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["campaign_links.id"],
            name="fk_link_clicks_link_id_campaign_links",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_link_clicks_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_link_clicks"),
        sa.UniqueConstraint("link_id", "subscriber_id", name="uq_link_clicks_link_subscriber"),
    )
    op.create_index("ix_link_clicks_subscriber_id", "link_clicks", ["subscriber_id"])
    op.create_table(
        "unsubscribes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_unsubscribes_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name="fk_unsubscribes_list_id_lists", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_unsubscribes_campaign_id_campaigns",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unsubscribes"),
    )
    op.create_index("ix_unsubscribes_subscriber_id", "unsubscribes", ["subscriber_id"])
    op.create_index("ix_unsubscribes_campaign_id", "unsubscribes", ["campaign_id"])
    op.create_index("ix_unsubscribes_created_at", "unsubscribes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_list_confirmed_at", table_name="subscriptions")
    for name in ("unsubscribes", "link_clicks", "campaign_links", "welcome_sends", "welcome_steps"):
        op.drop_table(name)
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("template")
        batch_op.drop_column("welcome_step")
