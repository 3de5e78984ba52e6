"""What the staff panel shows and changes about payment links (read by `admin/web/payments`):
paid orders still waiting for course access, recent links with their state, a client's links."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccessState, Client, PaymentLink, PaymentStatus


def _row(link: PaymentLink, client: Client) -> dict[str, Any]:
    return {"id": link.id, "vk_id": client.vk_id, "client": client.display_name,
            "product_id": link.product_id, "amount_rub": link.amount_rub,
            "list_price_rub": link.list_price_rub, "percent": link.percent,
            "paid_amount_rub": link.paid_amount_rub, "status": link.status,
            "status_label": PaymentStatus(link.status).label, "access": link.access,
            "access_label": AccessState(link.access).label if link.access else "",
            "provider": link.provider, "payment_id": link.provider_payment_id,
            "url": link.confirmation_url, "created_at": link.created_at,
            "paid_at": link.paid_at, "turn_id": link.turn_id, "error": link.last_error,
            "staff_alerted": link.staff_alerted}


def awaiting_access(s: Session) -> list[dict[str, Any]]:
    rows = s.execute(select(PaymentLink, Client).join(Client, Client.id == PaymentLink.client_id)
                     .where(PaymentLink.status == PaymentStatus.SUCCEEDED,
                            PaymentLink.access == AccessState.WAITING)
                     .order_by(PaymentLink.paid_at)).all()
    return [_row(link, client) for link, client in rows]


def recent_links(s: Session, limit: int = 100) -> list[dict[str, Any]]:
    rows = s.execute(select(PaymentLink, Client).join(Client, Client.id == PaymentLink.client_id)
                     .order_by(PaymentLink.id.desc()).limit(limit)).all()
    return [_row(link, client) for link, client in rows]


def links_of(s: Session, client_id: int) -> list[dict[str, Any]]:
    rows = s.execute(select(PaymentLink, Client).join(Client, Client.id == PaymentLink.client_id)
                     .where(PaymentLink.client_id == client_id)
                     .order_by(PaymentLink.id.desc()).limit(50)).all()
    return [_row(link, client) for link, client in rows]


def mark_access_opened(s: Session, link_id: int, now: datetime) -> tuple[bool, str]:
    link = s.get(PaymentLink, link_id)
    if link is None or link.status != PaymentStatus.SUCCEEDED:
        return False, "Такой оплаченной ссылки нет."
    if link.access == AccessState.OPENED:
        return True, "Доступ уже отмечен как открытый."
    link.access = AccessState.OPENED
    link.access_opened_at = now
    return True, f"Доступ по оплате {link.provider_payment_id} отмечен как открытый."
