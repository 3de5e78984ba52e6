"""`flask --app app reminders list [--all]`: due time in the client's zone, client, status, what
was agreed."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.crm.card_view import reminder_row
from app.models import Client, Reminder, ReminderStatus
from app.composition.services import services

reminders = AppGroup("reminders", help="Agreed follow-ups and proactive messages.")
GROUPS = [reminders]


@reminders.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also sent, cancelled and skipped ones.")
# refused ones (VK did not deliver: a person must write) stay in the default list
def list_reminders(show_all: bool) -> None:
    svc = services()
    with svc.db.session() as s:
        q = select(Reminder, Client).join(Client, Client.id == Reminder.client_id)
        if not show_all:
            q = q.where(Reminder.status.in_((ReminderStatus.PENDING, ReminderStatus.SENDING,
                                             ReminderStatus.REFUSED)))
        rows = s.execute(q.order_by(Reminder.due_at)).all()
        if not rows:
            click.echo("no reminders" if show_all else "no pending reminders")
            return
        for r, c in rows:
            row = reminder_row(r, c.timezone)
            flag = " (default time)" if r.is_default else ""
            reason = f" [{r.status_reason}]" if r.status_reason else ""
            if r.status == ReminderStatus.REFUSED:
                reason = f" [VK отказал, код {r.vk_error_code}: {r.status_reason}]"
            click.echo(f"#{r.id} {row['due_at']} {c.timezone} · {c.display_name} (vk {c.vk_id}) · "
                       f"{r.kind} · {r.status}{flag}{reason} · {row['agreed']}")
