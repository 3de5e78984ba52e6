"""CLI of the CRM: `flask --app app purchases import FILE.csv`, `flask --app app offers list`.

Registered by `app.admin.cli` through `GROUPS`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import or_, select

from app.knowledge.base import KnowledgeStore
from app.platform.clock import Clock
from app.platform.db import Database
from app.platform.deps import deps_of, install

purchases = AppGroup("purchases", help="Purchases from the shop.")
offers = AppGroup("offers", help="Discounts and bonuses granted by the sales policy.")
GROUPS = [purchases, offers]


@dataclass(frozen=True)
class CrmCliDeps:
    db: Database
    clock: Clock
    kb_store: KnowledgeStore


def init_app(app: Flask, deps: CrmCliDeps) -> None:
    install(app, deps)
    for group in GROUPS:
        app.cli.add_command(group)


def _deps() -> CrmCliDeps:
    return deps_of(CrmCliDeps)


@purchases.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def purchases_import(path: str) -> None:
    """Import a CSV (order_id,vk_id,email,phone,product_id,amount_rub,paid_at).

    Idempotent by order_id; bad rows are listed and skipped, good rows are kept.
    Exit code 1 when any row was refused.
    """
    from app.crm.purchases.store import import_csv

    deps = _deps()
    with deps.db.session() as s:
        report = import_csv(s, path, deps.kb_store.current)
    click.echo(f"created {report.created}, duplicates {report.duplicates}, "
               f"errors {len(report.errors)}")
    for error in report.errors:
        click.echo(error)
    if report.unmatched:
        click.echo(f"waiting for staff {len(report.unmatched)} (matched only contact data "
                   f"typed in chat): {', '.join(report.unmatched)}; "
                   f"see `flask --app app purchases unmatched`")
    if report.errors:
        sys.exit(1)


@purchases.command("unmatched")
@click.option("--confirm", "confirm_order", metavar="ORDER_ID", help="Attach this order...")
@click.option("--vk-id", type=int, help="...to this candidate (VK id).")
@click.option("--dismiss", "dismiss_order", metavar="ORDER_ID", help="Attach it to nobody.")
def purchases_unmatched(confirm_order: Optional[str], vk_id: Optional[int],
                        dismiss_order: Optional[str]) -> None:
    """Orders that matched only an unverified contact (typed by a client in chat).

    Without options: list them with their candidates. Exit code 1 when an action failed.
    """
    from app.crm.purchases import unmatched
    from app.crm.purchases.unmatched_cli import act, print_waiting

    deps = _deps()
    with deps.db.session() as s:
        if confirm_order or dismiss_order:
            ok, message = act(s, unmatched, confirm_order, vk_id, dismiss_order, deps.clock.now())
            click.echo(message)
            if not ok:
                sys.exit(1)
            return
        print_waiting(unmatched.waiting(s))


def _status(redeemed: bool, expires_at: Optional[datetime], now: datetime) -> str:
    if redeemed:
        return "redeemed"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def _in_zone(moment: Optional[datetime], tz: str) -> str:
    if moment is None:
        return "never"
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Europe/Moscow")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@offers.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also expired and redeemed offers.")
def offers_list(show_all: bool) -> None:
    """Issued promo codes and bonuses: code, percent, client, product, expiry, status."""
    from app.models import Client, IssuedOffer

    deps = _deps()
    now = deps.clock.now()
    query = (select(IssuedOffer, Client).join(Client, Client.id == IssuedOffer.client_id)
             .order_by(IssuedOffer.id))
    if not show_all:
        query = query.where(IssuedOffer.redeemed.is_(False),
                            or_(IssuedOffer.expires_at.is_(None), IssuedOffer.expires_at > now))
    with deps.db.session() as s:
        rows = s.execute(query).all()
    if not rows:
        click.echo("no offers" if show_all else "no active offers (use --all to see every one)")
        return
    click.echo("code\tpercent\tvk_id\tproduct\texpires\tstatus\toffer")
    for offer, client in rows:
        code = offer.code or f"({offer.kind})"
        percent = f"{offer.percent}%" if offer.percent is not None else "-"
        click.echo("\t".join([code, percent, str(client.vk_id), offer.product_id or "-",
                              _in_zone(offer.expires_at, client.timezone),
                              _status(offer.redeemed, offer.expires_at, now), offer.offer_id]))
