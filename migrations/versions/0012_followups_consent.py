"""Follow-ups after a silence and consent from VK: permission and reachability on the client,
intent subscriptions, one follow-up per silence

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("vk_permission", sa.String(16), nullable=False,
                                       server_default="unknown"))
    op.add_column("clients", sa.Column("vk_permission_at", sa.DateTime(timezone=True)))
    op.add_column("clients", sa.Column("unreachable_at", sa.DateTime(timezone=True)))
    op.add_column("clients", sa.Column("unreachable_code", sa.Integer()))
    op.add_column("clients", sa.Column("asked_not_to_write_at", sa.DateTime(timezone=True)))
    op.add_column("reminders", sa.Column("silence_message_id", sa.BigInteger()))
    op.create_unique_constraint("uq_reminders_silence_message_id", "reminders",
                                ["silence_message_id"])
    op.create_table(
        "vk_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(),
                  sa.ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("intent", sa.String(40), nullable=False),
        sa.Column("subscribe_id", sa.Integer(), nullable=False, server_default="-1"),
        sa.Column("subscribed", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "intent", "subscribe_id",
                            name="uq_vk_subscriptions_client_intent"),
    )
    op.create_index("ix_vk_subscriptions_client_id", "vk_subscriptions", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_vk_subscriptions_client_id", "vk_subscriptions")
    op.drop_table("vk_subscriptions")
    op.drop_constraint("uq_reminders_silence_message_id", "reminders", type_="unique")
    op.drop_column("reminders", "silence_message_id")
    for column in ("asked_not_to_write_at", "unreachable_code", "unreachable_at",
                   "vk_permission_at", "vk_permission"):
        op.drop_column("clients", column)
