"""an offer is granted to a client at most once (a database guarantee for the policy's rule)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        DELETE FROM issued_offers a USING issued_offers b
        WHERE a.client_id = b.client_id AND a.offer_id = b.offer_id AND a.id > b.id
    """)
    op.create_unique_constraint("uq_issued_offers_client_offer", "issued_offers",
                                ["client_id", "offer_id"])


def downgrade() -> None:
    op.drop_constraint("uq_issued_offers_client_offer", "issued_offers", type_="unique")
