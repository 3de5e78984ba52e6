"""What staff can change from the panel. Each action is one short transaction; views stay thin."""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from app.crm.cards import CONTACTS, FIELD_LIMITS, normalize_email, normalize_phone, record_change, set_contact
from app.models import FUNNEL_STAGES, Client, Dialog, Message, Reminder, ReminderStatus, Turn, TurnStatus
from app.vk.api import derive_random_id
from app.vk.channel import OutboundMessage
from app.vk.errors import VkError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.admin.web.deps import AdminDeps

log = logging.getLogger(__name__)
STAFF = "staff"
MAX_STAFF_TEXT = 4000
OPTIONAL_TEXT = ("level", "goal", "instrument", "age_group")
FIELD_NAMES = {"first_name": "имя", "last_name": "фамилия", "email": "e-mail", "phone": "телефон",
               "timezone": "часовой пояс", "level": "уровень", "goal": "цель",
               "instrument": "инструмент", "age_group": "возраст", "funnel_stage": "этап воронки",
               "tags": "теги", "notes": "заметки", "bot_paused": "пауза бота"}


@dataclass
class Outcome:
    ok: bool
    message: str
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400  # the HTTP status a view answers with when not ok


def pause_dialog(deps: AdminDeps, dialog_id: int) -> Outcome:
    with deps.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        if dialog is None:
            return Outcome(False, "Диалог не найден")
        dialog.human_until = deps.clock.now() + timedelta(hours=deps.settings.handoff_pause_hours)
    log.info("admin: dialog %s paused", dialog_id)
    return Outcome(True, f"Бот молчит в этом диалоге {deps.settings.handoff_pause_hours:g} ч")


def resume_dialog(deps: AdminDeps, dialog_id: int) -> Outcome:
    with deps.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        if dialog is None:
            return Outcome(False, "Диалог не найден")
        dialog.human_until = None
    log.info("admin: dialog %s resumed", dialog_id)
    return Outcome(True, "Бот снова отвечает в этом диалоге")


def resolve_needs_human(deps: AdminDeps, dialog_id: int) -> Outcome:
    with deps.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        if dialog is None:
            return Outcome(False, "Диалог не найден")
        dialog.needs_human = False
    return Outcome(True, "Отметка «нужен человек» снята")


def new_send_key() -> str:
    """Rendered into the staff form: a retry of the same form reuses the same VK random_id."""
    return uuid.uuid4().hex


def staff_random_id(send_key: str, text: str) -> int:
    """One VK random_id per (form key, text): a retry of the same text reuses it (VK drops the
    repeat), an edited text is a new message with its own id."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return derive_random_id(f"staff:{send_key}:{digest}")


def send_staff_message(deps: AdminDeps, dialog_id: int, text: str, send_key: str) -> Outcome:
    """Store first, then send through VK with a deterministic random_id; pause the bot."""
    text = (text or "").strip()
    if not text:
        return Outcome(False, "Пустое сообщение не отправлено")
    if len(text) > MAX_STAFF_TEXT:
        return Outcome(False, f"Слишком длинное сообщение (больше {MAX_STAFF_TEXT} символов)")
    key = send_key if send_key and len(send_key) <= 64 else new_send_key()
    random_id = staff_random_id(key, text)
    with deps.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        if dialog is None:
            return Outcome(False, "Диалог не найден")
        peer_id = dialog.peer_id
        row = s.execute(select(Message).where(Message.dialog_id == dialog_id,
                                              Message.random_id == random_id)).scalars().first()
        if row is not None and row.vk_message_id is not None:
            return Outcome(True, "Это сообщение уже отправлено (повтор не отправлялся)")
        if row is None:
            row = Message(dialog_id=dialog_id, direction="out", source=STAFF, text=text,
                          random_id=random_id, attachments=[], created_at=deps.clock.now())
            s.add(row)
        s.flush()
        message_id = row.id
    return _deliver_staff(deps, dialog_id, peer_id, text, random_id, message_id)


def _deliver_staff(deps: AdminDeps, dialog_id: int, peer_id: int, text: str, random_id: int,
                   message_id: int) -> Outcome:
    try:
        ids = deps.channel.send(OutboundMessage(peer_id, text, random_id))
    except VkError as exc:
        log.warning("admin: staff message to %s failed: %s", peer_id, exc)
        with deps.db.session() as s:  # not delivered: do not pretend it was
            row = s.get(Message, message_id)
            if row is not None and row.vk_message_id is None:
                s.delete(row)
        return Outcome(False, f"ВКонтакте не принял сообщение: {exc}. Текст сохранён в форме, "
                              "попробуйте ещё раз.", status=502)
    with deps.db.session() as s:
        row = s.get(Message, message_id)
        if row is not None:
            row.vk_message_id = ids[0] if ids else None
        dialog = s.get(Dialog, dialog_id)
        assert dialog is not None, "the dialog the admin replied in exists"
        dialog.last_outbound_at = deps.clock.now()
        dialog.human_until = deps.clock.now() + timedelta(hours=deps.settings.handoff_pause_hours)
    return Outcome(True, f"Отправлено. Бот молчит в этом диалоге "
                         f"{deps.settings.handoff_pause_hours:g} ч")


def parse_card_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form → clean values and errors (Russian), nothing saved."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("first_name", "last_name"):
        values[name] = (form.get(name) or "").strip()
    for name in OPTIONAL_TEXT:
        values[name] = (form.get(name) or "").strip() or None
    for name, value in values.items():
        if value and len(value) > FIELD_LIMITS.get(name, 200):
            errors[name] = f"Не длиннее {FIELD_LIMITS.get(name, 200)} символов"
    email, phone = (form.get("email") or "").strip(), (form.get("phone") or "").strip()
    values["email"] = normalize_email(email)
    if email and values["email"] is None:
        errors["email"] = "Неверный e-mail"
    values["phone"] = normalize_phone(phone)
    if phone and values["phone"] is None:
        errors["phone"] = "Неверный телефон: нужен номер вида +7 999 123-45-67"
    values["timezone"] = (form.get("timezone") or "").strip()
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "Неизвестный часовой пояс (нужен IANA, например Europe/Moscow)"
    values["funnel_stage"] = form.get("funnel_stage") or ""
    if values["funnel_stage"] not in FUNNEL_STAGES:
        errors["funnel_stage"] = "Неизвестный этап воронки"
    tags = [t.strip()[:50] for t in (form.get("tags") or "").split(",") if t.strip()]
    values["tags"] = list(dict.fromkeys(tags))[:30]
    values["notes"] = (form.get("notes") or "").strip()[:4000]
    values["bot_paused"] = form.get("bot_paused") in ("1", "on", "true")
    return values, errors


def update_card(deps: AdminDeps, vk_id: int, form: Mapping[str, str]) -> Outcome:
    values, errors = parse_card_form(form)
    if errors:
        return Outcome(False, "Карточка не сохранена: исправьте ошибки", errors)
    with deps.db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one_or_none()
        if client is None:
            return Outcome(False, "Клиент не найден")
        contacts = {name: values.pop(name) for name in CONTACTS}
        changed = [name for name, value in values.items()
                   if record_change(s, client, name, value, STAFF)]
        changed += [name for name, value in contacts.items()
                    if _staff_contact(s, client, name, value, form)]
    if not changed:
        return Outcome(True, "Ничего не изменилось")
    log.info("admin: card %s changed: %s", vk_id, ", ".join(changed))
    return Outcome(True, "Сохранено: " + ", ".join(FIELD_NAMES.get(f, f) for f in changed))


def _staff_contact(s: Session, client: Client, name: str, value: Optional[str],
                   form: Mapping[str, str]) -> bool:
    """Staff typing a contact proves it; an unchanged claim is proven only by the tick box."""
    if value == getattr(client, name):
        ticked = form.get(f"{name}_verified") in ("1", "on", "true")
        if value is None or getattr(client, f"{name}_verified") or not ticked:
            return False
    return set_contact(s, client, name, value, STAFF, verified=value is not None)


def _own_reminder(s: Session, vk_id: int,
                  reminder_id: int) -> tuple[Optional[Client], Optional[Reminder]]:
    client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one_or_none()
    reminder = s.get(Reminder, reminder_id)
    if client is None or reminder is None or reminder.client_id != client.id:
        return None, None
    return client, reminder


def cancel_reminder(deps: AdminDeps, vk_id: int, reminder_id: int) -> Outcome:
    with deps.db.session() as s:
        _, reminder = _own_reminder(s, vk_id, reminder_id)
        if reminder is None:
            return Outcome(False, "Напоминание не найдено")
        if reminder.status != ReminderStatus.PENDING:
            return Outcome(False, "Отменить можно только ожидающее напоминание")
        reminder.status, reminder.status_reason = "cancelled", "отменено сотрудником"
    return Outcome(True, "Напоминание отменено")


def _restart(s: Session, reminder: Reminder, now: datetime) -> None:
    """A rescheduled reminder gets a new turn (and so a new VK random_id) when it fires: the old
    one is finished, or closed here if a re-plan left it open."""
    old = s.get(Turn, reminder.fired_turn_id) if reminder.fired_turn_id else None
    if old is not None and old.status == TurnStatus.RUNNING:
        old.skip(now, "reminder rescheduled by staff")
    reminder.fired_turn_id = None


def reschedule_reminder(deps: AdminDeps, vk_id: int, reminder_id: int, local_value: str) -> Outcome:
    """`local_value` is a datetime-local input (YYYY-MM-DDTHH:MM) in the client's time zone."""
    with deps.db.session() as s:
        client, reminder = _own_reminder(s, vk_id, reminder_id)
        if client is None or reminder is None:
            return Outcome(False, "Напоминание не найдено")
        if reminder.status in ("sent", "sending"):
            return Outcome(False, "Напоминание уже отправлено")
        try:
            local = datetime.strptime((local_value or "").strip()[:16], "%Y-%m-%dT%H:%M")
        except ValueError:
            return Outcome(False, "Неверные дата и время")
        due = local.replace(tzinfo=ZoneInfo(client.timezone))
        if due <= deps.clock.now():
            return Outcome(False, "Это время уже прошло")
        _restart(s, reminder, deps.clock.now())
        reminder.due_at, reminder.status = due, "pending"
        reminder.claimed_until, reminder.status_reason = None, "перенесено сотрудником"
    return Outcome(True, f"Напоминание перенесено на {local:%d.%m.%Y %H:%M} ({client.timezone})")
