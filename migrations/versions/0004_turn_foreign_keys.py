"""turn ids become foreign keys (dialog claims, reminders, offers, alerts, offer audit)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, referenced table, constraint name)
FKS = (
    ("dialogs", "claimed_turn_id", "turns", "fk_dialogs_claimed_turn"),
    ("turns", "reminder_id", "reminders", "fk_turns_reminder"),
    ("reminders", "source_turn_id", "turns", "fk_reminders_source_turn"),
    ("reminders", "fired_turn_id", "turns", "fk_reminders_fired_turn"),
    ("issued_offers", "turn_id", "turns", "fk_issued_offers_turn"),
    ("offer_decisions", "turn_id", "turns", "fk_offer_decisions_turn"),
    ("offer_decisions", "issued_offer_id", "issued_offers", "fk_offer_decisions_issued_offer"),
    ("manager_alerts", "turn_id", "turns", "fk_manager_alerts_turn"),
)


def upgrade() -> None:
    for table, column, target, name in FKS:
        # rows written before the constraint may point at nothing: keep the row, drop the link
        op.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IS NOT NULL AND NOT "
                   f"EXISTS (SELECT 1 FROM {target} t WHERE t.id = {table}.{column})")
        op.create_foreign_key(name, table, target, [column], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    for table, _column, _target, name in reversed(FKS):
        op.drop_constraint(name, table, type_="foreignkey")
