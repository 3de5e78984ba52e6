"""Consent that VK and the client give, as stored: message_allow / message_deny, reachability
(VK's 901/902 on a proactive send), intent subscriptions (`intent_subscribe` buttons, read back
with `messages.getIntentUsers`) and VK's reply window. Database only."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Optional, cast

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.models import Client, Dialog, Message, Reminder, VkPermission, VkSubscription

NO_SUBSCRIBE_ID = -1


def _sid(subscribe_id: Optional[int]) -> int:
    return NO_SUBSCRIBE_ID if subscribe_id is None else int(subscribe_id)


def is_subscribed(s: Session, client_id: int, intent: str, subscribe_id: Optional[int]) -> bool:
    return s.execute(select(VkSubscription.subscribed).where(
        VkSubscription.client_id == client_id, VkSubscription.intent == intent,
        VkSubscription.subscribe_id == _sid(subscribe_id))).scalar_one_or_none() is True


def store_intent_users(s: Session, intent: str, subscribe_id: Optional[int],
                       vk_ids: Iterable[int], now: datetime) -> int:
    """VK's full list of subscribers of (intent, subscribe_id): known clients in it are
    subscribed, everyone else stored as subscribed is not (an `intent_unsubscribe`).
    Returns how many clients changed."""
    sid = _sid(subscribe_id)
    wanted = set(s.execute(select(Client.id).where(Client.vk_id.in_(set(vk_ids)))).scalars())
    changed = 0
    for client_id in wanted:
        row = s.execute(insert(VkSubscription).values(
            client_id=client_id, intent=intent, subscribe_id=sid, subscribed=True,
            changed_at=now, checked_at=now).on_conflict_do_nothing(
            constraint="uq_vk_subscriptions_client_intent").returning(VkSubscription.id)).first()
        if row is not None:
            changed += 1
    # an UPDATE's result is a CursorResult (Session.execute is typed as returning Result)
    changed += cast("CursorResult[Any]", s.execute(update(VkSubscription).where(
        VkSubscription.intent == intent, VkSubscription.subscribe_id == sid,
        VkSubscription.client_id.in_(wanted), VkSubscription.subscribed.is_(False))
        .values(subscribed=True, changed_at=now))).rowcount or 0
    gone = update(VkSubscription).where(VkSubscription.intent == intent,
                                        VkSubscription.subscribe_id == sid,
                                        VkSubscription.subscribed.is_(True))
    if wanted:
        gone = gone.where(VkSubscription.client_id.not_in(wanted))
    changed += cast("CursorResult[Any]",
                    s.execute(gone.values(subscribed=False, changed_at=now))).rowcount or 0
    s.execute(update(VkSubscription).where(VkSubscription.intent == intent,
                                           VkSubscription.subscribe_id == sid)
              .values(checked_at=now))
    return changed


def followups_sent(s: Session, client_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The client's follow-ups after a silence, newest first, and whether the client wrote
    back after each."""
    rows = s.execute(select(Reminder).where(Reminder.client_id == client_id,
                                            Reminder.kind == "reengage")
                     .order_by(Reminder.id.desc()).limit(limit)).scalars().all()
    dialog_id = s.execute(select(Dialog.id).where(Dialog.client_id == client_id)).scalar()
    out = []
    for r in rows:
        replied = r.sent_at is not None and dialog_id is not None and s.execute(
            select(Message.id).where(Message.dialog_id == dialog_id, Message.direction == "in",
                                     Message.created_at > r.sent_at).limit(1)).first() is not None
        out.append({"id": r.id, "status": r.status, "due_at": r.due_at, "sent_at": r.sent_at,
                    "context": r.context, "reason": r.status_reason, "replied": replied,
                    "turn_id": r.fired_turn_id})
    return out


def window_until(dialog: Optional[Dialog], window_hours: float) -> Optional[datetime]:
    """Until when VK accepts an ordinary (default intent) message to this client."""
    if dialog is None or dialog.last_inbound_at is None:
        return None
    return dialog.last_inbound_at + timedelta(hours=window_hours)


def reachability(s: Session, client: Client, dialog: Optional[Dialog], now: datetime,
                 window_hours: float) -> dict[str, Any]:
    """What the panel shows: window open until, allowed/denied, unreachable, subscriptions."""
    until = window_until(dialog, window_hours)
    subs = s.execute(select(VkSubscription).where(VkSubscription.client_id == client.id)
                     .order_by(VkSubscription.intent, VkSubscription.subscribe_id)).scalars().all()
    return {
        "window_until": until, "window_open": until is not None and until > now,
        "permission": client.vk_permission, "permission_label": VkPermission(
            client.vk_permission).label if client.vk_permission in VkPermission.labels()
        else client.vk_permission,
        "permission_at": client.vk_permission_at,
        "unreachable_at": client.unreachable_at, "unreachable_code": client.unreachable_code,
        "asked_not_to_write_at": client.asked_not_to_write_at,
        "may_write_first": client.may_write_first,
        "subscriptions": [{"intent": x.intent, "subscribe_id": None if x.subscribe_id < 0
                           else x.subscribe_id, "subscribed": x.subscribed,
                           "changed_at": x.changed_at, "checked_at": x.checked_at}
                          for x in subs],
    }
