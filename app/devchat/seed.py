"""`flask --app app dev seed`: demo clients for the local panel (idempotent).

A prospect, a student with access ending soon, and a student who agreed to talk on Friday;
messages go through the same event handling as VK's, so turns and analyses are real."""
from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.models import Client, Purchase
from app.composition.services import services
from app.vk.inbound.callback import accept_event
from app.vk.inbound.events import parse_event

dev = AppGroup("dev", help="Local development helpers.")
GROUPS = [dev]

DEMO = [
    (900001, "Мария", "Соколова", ["Здравствуйте! Мне 52 года, всю жизнь мечтала играть на пианино.",
                                  "С чего начать, если я совсем с нуля?"]),
    (900002, "Игорь", "Лебедев", ["Добрый день! Как продлить доступ к курсу?"]),
    (900003, "Елена", "Ковалёва", ["Сколько стоит курс для ребёнка 8 лет?",
                                  "Мне нужно посоветоваться с мужем, напишите в пятницу вечером"]),
]


def _event(svc, vk_id: int, text: str, n: int) -> dict:  # noqa: ANN001
    return {"type": "message_new", "group_id": svc.settings.vk_group_id, "v": "5.199",
            "event_id": f"seed-{vk_id}-{n}", "secret": svc.settings.vk_secret,
            "object": {"message": {"id": 0, "peer_id": vk_id, "from_id": vk_id, "text": text,
                                   "date": int(svc.clock.now().timestamp())}, "client_info": {}}}


@dev.command("seed")
def seed() -> None:
    """Create demo clients, a purchase with access ending soon, and their first messages."""
    svc = services()
    for vk_id, first, last, texts in DEMO:
        for n, text in enumerate(texts):
            accept_event(parse_event(_event(svc, vk_id, text, n)))
        with svc.db.session() as s:
            client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()
            client.first_name, client.last_name = client.first_name or first, client.last_name or last
            client.names_fetched_at = svc.clock.now()  # demo names, not the VK stand-in's
    kb = svc.kb_store.current
    product = next((p for p in kb.products if p.access_days and p.extension), None)
    if product is not None:
        with svc.db.session() as s:
            client = s.execute(select(Client).where(Client.vk_id == 900002)).scalar_one()
            if s.execute(select(Purchase).where(Purchase.order_id == "demo-1")).first() is None:
                s.add(Purchase(order_id="demo-1", client_id=client.id, product_id=product.id,
                               amount_rub=product.price_rub, source="staff",
                               paid_at=svc.clock.now() - timedelta(days=product.access_days - 5)))
    click.echo(f"seeded {len(DEMO)} demo clients; the running app answers them within "
               f"{svc.settings.debounce_seconds:g} s")
