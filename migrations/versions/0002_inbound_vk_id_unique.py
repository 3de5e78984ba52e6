"""inbound VK message ids are unique (idempotent webhook insert)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        DELETE FROM messages m USING messages d
        WHERE m.direction = 'in' AND d.direction = 'in' AND m.vk_message_id = d.vk_message_id
          AND m.id > d.id
    """)
    op.create_index("uq_messages_inbound_vk_id", "messages", ["vk_message_id"], unique=True,
                    postgresql_where=sa.text("direction = 'in' AND vk_message_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_messages_inbound_vk_id", table_name="messages")
