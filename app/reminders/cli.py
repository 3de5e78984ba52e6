"""`flask --app app reminders list [--all]`: due time in the client's zone, client, status, what
was agreed."""
from __future__ import annotations

from dataclasses import dataclass

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.crm.card_view import reminder_row
from app.models import Client, Reminder, ReminderStatus
from app.platform.db import Database
from app.platform.deps import deps_of, install

reminders = AppGroup("reminders", help="Agreed follow-ups and proactive messages.")
GROUPS = [reminders]


@dataclass(frozen=True)
class RemindersCliDeps:
    db: Database


def init_app(app: Flask, deps: RemindersCliDeps) -> None:
    install(app, deps)
    for group in GROUPS:
        app.cli.add_command(group)


def _deps() -> RemindersCliDeps:
    return deps_of(RemindersCliDeps)


@reminders.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also sent, cancelled and skipped ones.")
# refused ones (VK did not deliver: a person must write) stay in the default list
def list_reminders(show_all: bool) -> None:
    deps = _deps()
    with deps.db.session() as s:
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
