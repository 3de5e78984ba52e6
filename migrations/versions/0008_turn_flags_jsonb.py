"""Turn flags as a JSONB array: reports filter with `@>` instead of LIKE on the text

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE turns ALTER COLUMN flags DROP DEFAULT")
    op.execute("ALTER TABLE turns ALTER COLUMN flags TYPE jsonb USING flags::jsonb")
    op.execute("ALTER TABLE turns ALTER COLUMN flags SET DEFAULT '[]'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE turns ALTER COLUMN flags DROP DEFAULT")
    op.execute("ALTER TABLE turns ALTER COLUMN flags TYPE json USING flags::json")
    op.execute("ALTER TABLE turns ALTER COLUMN flags SET DEFAULT '[]'::json")
