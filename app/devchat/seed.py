"""`flask --app app dev seed`: demo clients for the local panel (idempotent).

A prospect, a student with access ending soon, and a student who agreed to talk on Friday;
messages go through the same event handling as VK's, so turns and analyses are real."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.knowledge.base import KnowledgeStore
from app.models import Client, Purchase
from app.platform.clock import Clock
from app.platform.config import Settings
from app.platform.db import Database
from app.platform.deps import deps_of, install
from app.vk.inbound.callback import accept_event
from app.vk.inbound.events import parse_event

dev = AppGroup("dev", help="Local development helpers.")
GROUPS = [dev]


@dataclass(frozen=True)
class SeedDeps:
    settings: Settings
    db: Database
    clock: Clock
    kb_store: KnowledgeStore


def init_app(app: Flask, deps: SeedDeps) -> None:
    install(app, deps)
    for group in GROUPS:
        app.cli.add_command(group)


def _deps() -> SeedDeps:
    return deps_of(SeedDeps)

DEMO = [
    (900001, "Мария", "Соколова", ["Здравствуйте! Мне 52 года, всю жизнь мечтала играть на пианино.",
                                  "С чего начать, если я совсем с нуля?"]),
    (900002, "Игорь", "Лебедев", ["Добрый день! Как продлить доступ к курсу?"]),
    (900003, "Елена", "Ковалёва", ["Сколько стоит курс для ребёнка 8 лет?",
                                  "Мне нужно посоветоваться с мужем, напишите в пятницу вечером"]),
]


def _event(deps: SeedDeps, vk_id: int, text: str, n: int) -> dict[str, Any]:
    return {"type": "message_new", "group_id": deps.settings.vk_group_id, "v": "5.199",
            "event_id": f"seed-{vk_id}-{n}", "secret": deps.settings.vk_secret,
            "object": {"message": {"id": 0, "peer_id": vk_id, "from_id": vk_id, "text": text,
                                   "date": int(deps.clock.now().timestamp())}, "client_info": {}}}


@dev.command("seed")
def seed() -> None:
    """Create demo clients, a purchase with access ending soon, and their first messages."""
    deps = _deps()
    for vk_id, first, last, texts in DEMO:
        for n, text in enumerate(texts):
            accept_event(parse_event(_event(deps, vk_id, text, n)))
        with deps.db.session() as s:
            client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()
            client.first_name, client.last_name = client.first_name or first, client.last_name or last
            client.names_fetched_at = deps.clock.now()  # demo names, not the VK stand-in's
    kb = deps.kb_store.current
    product = next((p for p in kb.products if p.access_days and p.extension), None)
    if product is not None:
        with deps.db.session() as s:
            client = s.execute(select(Client).where(Client.vk_id == 900002)).scalar_one()
            if s.execute(select(Purchase).where(Purchase.order_id == "demo-1")).first() is None:
                s.add(Purchase(order_id="demo-1", client_id=client.id, product_id=product.id,
                               amount_rub=product.price_rub, source="staff",
                               paid_at=deps.clock.now() - timedelta(days=product.access_days - 5)))
    click.echo(f"seeded {len(DEMO)} demo clients; the running app answers them within "
               f"{deps.settings.debounce_seconds:g} s")
