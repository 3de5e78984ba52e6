"""trust boundaries: verified contacts, unmatched orders, panel sessions, shared login limiter,
held-back replies

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CONTACTS = ("email", "phone")


def _backfill(field: str) -> None:
    """A contact whose latest change came from a chat turn stays a claim; anything else
    (staff, import, no audit at all) is treated as proven, as it was before."""
    op.execute(f"""
        UPDATE clients c SET {field}_verified = (last.source IS NULL OR last.source NOT LIKE 'turn:%'),
                             {field}_source = COALESCE(last.source, 'legacy')
        FROM clients c2 LEFT JOIN LATERAL (
            SELECT source FROM client_changes ch
            WHERE ch.client_id = c2.id AND ch.field = '{field}' ORDER BY ch.id DESC LIMIT 1
        ) last ON true
        WHERE c.id = c2.id AND c.{field} IS NOT NULL
    """)


def upgrade() -> None:
    for field in _CONTACTS:
        op.add_column("clients", sa.Column(f"{field}_verified", sa.Boolean(),
                                           server_default="false", nullable=False))
        op.add_column("clients", sa.Column(f"{field}_source", sa.String(120), nullable=True))
        _backfill(field)
    op.add_column("messages", sa.Column("held_back", sa.Boolean(), server_default="false",
                                        nullable=False))
    op.create_table(
        "unmatched_orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.String(100), nullable=False, unique=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("candidate_ids", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), server_default="waiting", nullable=False),
        sa.Column("resolved_client_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_unmatched_orders_status", "unmatched_orders", ["status"])
    op.create_table(
        "admin_sessions",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("password_mark", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admin_sessions_expires_at", "admin_sessions", ["expires_at"])
    op.create_table(
        "login_failures",
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_window_start", "login_failures", ["window_start"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("admin_sessions")
    op.drop_table("unmatched_orders")
    op.drop_column("messages", "held_back")
    for field in reversed(_CONTACTS):
        op.drop_column("clients", f"{field}_source")
        op.drop_column("clients", f"{field}_verified")
