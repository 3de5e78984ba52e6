"""VK as clients use it: transcribed voice notes, reply keyboards, client capabilities, refusals

Revision ID: 0007
Revises: 0005 (temporarily: 0005/0006 are not on main yet; the lead fixes the chain)
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("transcribed", sa.Boolean(), nullable=False,
                                        server_default=sa.text("false")))
    op.add_column("messages", sa.Column("keyboard", sa.Text(), nullable=True))
    op.add_column("clients", sa.Column("vk_capabilities", sa.JSON(), nullable=False,
                                       server_default=sa.text("'{}'::json")))
    op.add_column("reminders", sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("reminders", sa.Column("vk_error_code", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("reminders", "vk_error_code")
    op.drop_column("reminders", "refused_at")
    op.drop_column("clients", "vk_capabilities")
    op.drop_column("messages", "keyboard")
    op.drop_column("messages", "transcribed")
