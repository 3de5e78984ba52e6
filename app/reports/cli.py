"""`flask --app app report summary [--days N] [--json]` and `report clients --csv`."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import click
from flask import Flask
from flask.cli import AppGroup

from app.knowledge.base import KnowledgeStore
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of, install

report = AppGroup("report", help="The owner's numbers: funnel, revenue, offers, costs, KB gaps.")


@dataclass(frozen=True)
class ReportsCliDeps:
    settings: Settings
    db: Database
    clock: Clock
    kb_store: KnowledgeStore


def init_app(app: Flask, deps: ReportsCliDeps) -> None:
    install(app, deps)
    for group in (report,):
        app.cli.add_command(group)


def _deps() -> ReportsCliDeps:
    return deps_of(ReportsCliDeps)


@report.command("summary")
@click.option("--days", default=30, show_default=True, type=int, help="The last N days.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def summary_cmd(days: int, as_json: bool) -> None:
    """Funnel, revenue, offers, reminders, escalations, model cost and KB gaps."""
    from app.reports.period import PeriodError
    from app.reports.summary import ReportSettings, summary_for

    deps = _deps()
    try:
        result = summary_for(deps.db, deps.clock.now(), ReportSettings.of(deps.settings),
                             deps.kb_store, days)
    except PeriodError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    from app.reports.text_format import format_summary

    click.echo(format_summary(result))


@report.command("clients")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row (the default).")
def clients_cmd(as_csv: bool) -> None:
    """One row per client: stage, first/last message, purchases, revenue, offers, reminders,
    escalations."""
    from app.reports.clients_csv import write_csv

    deps = _deps()
    with deps.db.session() as s:
        write_csv(s, sys.stdout)
