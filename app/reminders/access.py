"""Access-extension offers: N days before a course's access ends, write once (a reminder of
kind `access_extension`, fired through the same machinery: quiet hours, weekly cap)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.crm.cards import paid_items
from app.crm.purchases.access_math import compute_access
from app.knowledge.base import KnowledgeBase
from app.models import Client, Purchase, Reminder, ReminderStatus
from app.platform.db import Database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def plan_access_reminders(db: Database, now: datetime, kb: KnowledgeBase, days: int) -> int:
    """Plan the access-extension offers due within `days` (ACCESS_REMINDER_DAYS)."""
    created = 0
    with db.session() as s:
        client_ids = s.execute(select(Purchase.client_id).distinct()).scalars().all()
        for client_id in client_ids:
            for product_id, access in compute_access(paid_items(s, client_id), kb).items():
                product = kb.product(product_id)
                if access.until is None or product is None or product.extension is None:
                    continue
                if not now < access.until <= now + timedelta(days=days):
                    continue
                created += _insert(s, client_id, product_id, access.until, now, product.title)
    if created:
        log.info("planned %d access-extension offers", created)
    return created


def _insert(s: Session, client_id: int, product_id: str, until: datetime, now: datetime, title: str) -> int:
    client = s.get(Client, client_id)
    if client is None or not client.can_write:
        return 0
    local_until = until.astimezone(ZoneInfo(client.timezone))
    row = s.execute(insert(Reminder).values(
        client_id=client_id, kind="access_extension", due_at=now, agreed_at=now,
        status=ReminderStatus.PENDING, is_default=False, product_id=product_id,
        source_text="", context=(f"Доступ к курсу «{title}» заканчивается "
                                 f"{local_until:%d.%m.%Y}. Предложить продление из базы знаний."),
        dedupe_key=f"access:{client_id}:{product_id}:{until:%Y%m%d}",
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Reminder.id)).first()
    return 1 if row else 0
