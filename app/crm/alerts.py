"""Manager alerts on escalation: a VK message to MANAGER_PEER_IDS, once per dialog per day."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.models import Client, ManagerAlert, Reminder
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.vk.api import derive_random_id
from app.vk.channel import OutboundChannel, OutboundMessage
from app.vk.errors import VkError

log = logging.getLogger(__name__)


class AlertTarget(Protocol):
    """What an alert needs of the dialog: whose it is and where to write."""

    @property
    def client_id(self) -> int: ...

    @property
    def peer_id(self) -> int: ...


@dataclass(frozen=True)
class AlertSettings:
    school_timezone: str
    vk_group_id: Optional[int]
    manager_ids: tuple[int, ...]

    @classmethod
    def of(cls, settings: Settings) -> "AlertSettings":
        return cls(settings.school_timezone, settings.vk_group_id, tuple(settings.manager_ids))


def dialog_link(group_id: Optional[int], peer_id: int) -> str:
    if group_id:
        return f"https://vk.com/gim{group_id}?sel={peer_id}"
    return f"https://vk.com/id{peer_id}"


def alert_text(client: Client, reason: str, link: str) -> str:
    name = client.display_name
    return (f"Нужен человек в диалоге с клиентом {name}.\n"
            f"Причина: {reason or 'клиент просит связаться с человеком'}\n"
            f"Диалог: {link}")


class ManagerAlerts:
    """Messages to the managers (MANAGER_PEER_IDS) through the outbound channel."""

    def __init__(self, db: Database, clock: Clock, channel: OutboundChannel,
                 cfg: AlertSettings) -> None:
        self.db, self.clock, self.channel, self.cfg = db, clock, channel, cfg

    def notify(self, state: AlertTarget, reason: str, turn_id: Optional[int]) -> bool:
        return notify_managers(self, state, reason, turn_id)

    def refused_reminder(self, reminder_id: int) -> bool:
        return notify_refused_reminder(self, reminder_id)


def notify_managers(alerts: ManagerAlerts, state: AlertTarget, reason: str,
                    turn_id: Optional[int]) -> bool:
    """Record the alert for today (school's zone) and message the managers, once per dialog
    per day; an alert whose send failed is sent again by the next escalation of that day."""
    now = alerts.clock.now()
    day = now.astimezone(ZoneInfo(alerts.cfg.school_timezone)).date().isoformat()
    with alerts.db.session() as s:
        s.execute(insert(ManagerAlert).values(client_id=state.client_id, turn_id=turn_id,
                                              reason=(reason or "")[:1000], day=day,
                                              created_at=now)
                  .on_conflict_do_nothing(constraint="uq_manager_alerts_client_day"))
        alert = s.execute(select(ManagerAlert).where(
            ManagerAlert.client_id == state.client_id, ManagerAlert.day == day)).scalar_one()
        if alert.sent:
            log.info("escalation for client %s already alerted today", state.client_id)
            return False
        client = s.get(Client, state.client_id)
        assert client is not None, "manager_alerts.client_id is a foreign key"
        alert_id, text = alert.id, alert_text(client, alert.reason,
                                              dialog_link(alerts.cfg.vk_group_id, state.peer_id))
    sent = _tell_managers(alerts, text, f"alert:{alert_id}", f"escalation {alert_id}")
    with alerts.db.session() as s:
        stored = s.get(ManagerAlert, alert_id)
        assert stored is not None, "manager alerts are never deleted"
        stored.sent = sent
    return sent


def _tell_managers(alerts: ManagerAlerts, text: str, key: str, what: str) -> bool:
    """Message every manager once per `key` (the random_id is derived from it, so VK drops a
    repeat); False when any send failed or MANAGER_PEER_IDS is empty."""
    ok = bool(alerts.cfg.manager_ids)
    for manager in alerts.cfg.manager_ids:
        try:
            alerts.channel.send(OutboundMessage(manager, text, derive_random_id(f"{key}:{manager}")))
        except VkError as exc:
            ok = False
            log.warning("manager %s not told about %s: %s", manager, what, exc)
    if not alerts.cfg.manager_ids:
        log.warning("%s: MANAGER_PEER_IDS is empty, nobody told", what)
    return ok


def refused_text(client: Client, reminder: Reminder, link: str, tz: str) -> str:
    agreed = reminder.context or reminder.source_text or "связаться с клиентом"
    when = reminder.due_at.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")
    why = (f"код {reminder.vk_error_code}: {reminder.status_reason or 'отказ'}"
           if reminder.vk_error_code is not None else (reminder.status_reason or "отказ"))
    return (f"ВКонтакте не пропустил напоминание клиенту {client.display_name} "
            f"({why}).\n"
            f"Договорились: {agreed[:500]}\n"
            f"Когда: {when} ({tz})\n"
            f"Напишите клиенту сами: {link}")


def notify_refused_reminder(alerts: ManagerAlerts, reminder_id: int) -> bool:
    """Tell the managers that VK refused a reminder (each manager once per reminder: the
    random_id is derived from the reminder, so a repeat is dropped by VK)."""
    from app.models import Dialog

    with alerts.db.session() as s:
        reminder = s.get(Reminder, reminder_id)
        assert reminder is not None, "called with the id of a stored reminder"
        client = s.get(Client, reminder.client_id)
        assert client is not None, "reminders.client_id is a foreign key"
        dialog = s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one()
        text = refused_text(client, reminder, dialog_link(alerts.cfg.vk_group_id,
                                                          dialog.peer_id), client.timezone)
    return _tell_managers(alerts, text, f"refused:{reminder_id}", f"refused reminder {reminder_id}")
