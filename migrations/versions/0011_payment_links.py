"""Payment links (YooKassa / local checkout) and the provider's notifications

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("product_id", sa.String(100), nullable=False),
        sa.Column("amount_rub", sa.Integer(), nullable=False),
        sa.Column("list_price_rub", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("issued_offer_id", sa.Integer(),
                  sa.ForeignKey("issued_offers.id", ondelete="SET NULL",
                                name="fk_payment_links_offer"), nullable=True),
        sa.Column("turn_id", sa.Integer(),
                  sa.ForeignKey("turns.id", ondelete="SET NULL", name="fk_payment_links_turn"),
                  nullable=True),
        sa.Column("provider", sa.String(20), nullable=False, server_default="yookassa"),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("provider_payment_id", sa.String(100), nullable=True, unique=True),
        sa.Column("confirmation_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="creating"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("paid_amount_rub", sa.Integer(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purchase_order_id", sa.String(100), nullable=True),
        sa.Column("thanked", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("access", sa.String(16), nullable=False, server_default=""),
        sa.Column("staff_alerted", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("access_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payment_links_client_id", "payment_links", ["client_id"])
    op.create_index("ix_payment_links_status", "payment_links", ["status"])
    op.create_index("uq_payment_links_open", "payment_links",
                    ["client_id", "product_id", "amount_rub"], unique=True,
                    postgresql_where=sa.text("status IN ('creating', 'pending')"))
    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False, server_default="yookassa"),
        sa.Column("payment_id", sa.String(100), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(200), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("payment_id", "event", name="uq_payment_events_id_event"),
    )
    op.create_index("ix_payment_events_processed_at", "payment_events", ["processed_at"])


def downgrade() -> None:
    op.drop_table("payment_events")
    op.drop_index("uq_payment_links_open", table_name="payment_links")
    op.drop_table("payment_links")
