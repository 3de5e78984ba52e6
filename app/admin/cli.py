"""Flask CLI: `flask --app app <group> <command>`. Groups live beside their capability;
this module registers them and holds the staff commands (clients, bot)."""
from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app.composition.services import services

clients = AppGroup("clients", help="Client cards.")
bot = AppGroup("bot", help="Global switch of automatic replies.")


def register(app: Flask) -> None:
    """Every command group: staff commands here, the others beside their capability."""
    from app.crm.cli import GROUPS as crm_groups
    from app.devchat.seed import GROUPS as dev_groups
    from app.eval.cli import eval_group
    from app.knowledge.kb_cli import kb
    from app.reminders.cli import GROUPS as reminder_groups
    from app.reminders.followup_cli import followup
    from app.reports.cli import report

    _add_kb_reload(kb)
    for group in (clients, bot, kb, followup, report, *reminder_groups, *crm_groups,
                  *dev_groups, eval_group):
        app.cli.add_command(group)


def _add_kb_reload(kb: click.Group) -> None:
    if "reload" in kb.commands:
        return

    @kb.command("reload", help="Validate knowledge_base.json and tell every process to use it.")
    @with_appcontext
    def reload_cmd() -> None:
        from app.runtime.kb_watcher import request_reload

        result = request_reload(services())
        if not result.ok:
            for err in result.errors:
                click.echo(err, err=True)
            click.echo(f"kept version {result.version}", err=True)
            sys.exit(1)
        click.echo(f"OK: version {result.version} in use")


@clients.command("show")
@click.argument("vk_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--turns", default=5, show_default=True, help="How many last turns.")
def clients_show(vk_id: int, as_json: bool, turns: int) -> None:
    """The client card, purchases, offers, reminders and the last turns with their analysis."""
    from app.crm.card_view import client_report

    svc = services()
    with svc.db.session() as s:
        report = client_report(s, vk_id, svc.kb_store.current, svc.clock.now(), turns)
    if report is None:
        click.echo(f"no client with vk_id {vk_id}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, default=str))
        return
    from app.admin.cli_format import format_report

    click.echo(format_report(report))


def _set_paused(paused: bool) -> None:
    from app.models import AppState

    svc = services()
    with svc.db.session() as s:
        row = s.get(AppState, "bot_paused") or AppState(key="bot_paused")
        row.value = "1" if paused else "0"
        s.add(row)


@bot.command("pause")
def bot_pause() -> None:
    """Stop all automatic replies (messages are still stored and analysed)."""
    _set_paused(True)
    click.echo("bot paused: no automatic replies until `flask bot resume`")


@bot.command("resume")
def bot_resume() -> None:
    """Start automatic replies again."""
    _set_paused(False)
    click.echo("bot resumed")
