"""Flask CLI: `flask --app app <group> <command>`. Groups live beside their capability;
this module registers them and holds the staff commands (clients, bot)."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app.knowledge.base import KnowledgeStore
from app.platform.clock import Clock
from app.platform.db import Database
from app.platform.deps import deps_of, install

clients = AppGroup("clients", help="Client cards.")
bot = AppGroup("bot", help="Global switch of automatic replies.")


@dataclass(frozen=True)
class StaffCliDeps:
    db: Database
    clock: Clock
    kb_store: KnowledgeStore


def init_app(app: Flask, deps: StaffCliDeps) -> None:
    """The staff commands (clients, bot, kb, followup); the other groups are registered by
    their own `init_app` beside their capability."""
    from app.knowledge.kb_cli import kb
    from app.reminders.followup_cli import followup

    install(app, deps)
    _add_kb_reload(kb)
    for group in (clients, bot, kb, followup):
        app.cli.add_command(group)


def _deps() -> StaffCliDeps:
    return deps_of(StaffCliDeps)


def _add_kb_reload(kb: click.Group) -> None:
    if "reload" in kb.commands:
        return

    @kb.command("reload", help="Validate knowledge_base.json and tell every process to use it.")
    @with_appcontext
    def reload_cmd() -> None:
        from app.runtime import request_reload

        result = request_reload(_deps().kb_store, _deps().db)
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

    deps = _deps()
    with deps.db.session() as s:
        report = client_report(s, vk_id, deps.kb_store.current, deps.clock.now(), turns)
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

    deps = _deps()
    with deps.db.session() as s:
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
