"""Issue 16.1: a contact typed in chat is a claim. It never attaches somebody's order, the
order waits for staff (panel + `flask purchases unmatched`), and the bot does not disclose it."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Client, Message, Purchase, UnmatchedOrder
from tests.helpers import drain, logged_in, message_new, post

SECRET = "pay-secret-1"
STRANGER, OLGA = 6101, 6102
OLGA_ORDER = {"order_id": "SHOP-77", "vk_id": None, "email": "Olga.K@example.com", "phone": "",
              "product_id": "piano-from-zero", "amount_rub": 14900,
              "paid_at": "2026-11-25T14:00:00+03:00"}


@pytest.fixture()
def shop(make_app: Callable[..., Any]) -> Any:
    return make_app(payment_webhook_secret=SECRET)


def pay(app: Any, body: dict) -> Any:
    return app.test_client().post("/hooks/payment", data=json.dumps(body),
                                  headers={"X-Payment-Secret": SECRET},
                                  content_type="application/json")


def say(app: Any, clock: Any, peer: int, text: str) -> None:
    post(app.test_client(), message_new(peer, text))
    clock.advance(10)
    drain(app)


def card(app: Any, vk_id: int) -> Client:
    with services(app).db.session() as s:
        return s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()


def purchases_of(app: Any, vk_id: int) -> list[str]:
    with services(app).db.session() as s:
        return list(s.execute(select(Purchase.order_id).join(Client).where(
            Client.vk_id == vk_id)).scalars())


def last_reply(app: Any, peer: int) -> str:
    with services(app).db.session() as s:
        return s.execute(select(Message.text).where(Message.direction == "out")
                         .order_by(Message.id.desc()).limit(1)).scalar_one()


def test_a_claimed_email_does_not_take_over_an_order(shop: Any, clock: Any) -> None:
    say(shop, clock, STRANGER, "Здравствуйте! мой email olga.k@example.com")
    stranger = card(shop, STRANGER)
    assert stranger.email == "olga.k@example.com"
    assert stranger.email_verified is False and stranger.email_source.startswith("turn:")
    resp = pay(shop, OLGA_ORDER)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json() == {"status": "unmatched", "order_id": "SHOP-77"}
    assert purchases_of(shop, STRANGER) == []
    assert card(shop, STRANGER).funnel_stage not in ("client", "returning")
    assert pay(shop, OLGA_ORDER).get_json()["status"] == "duplicate"  # a shop retry
    with services(shop).db.session() as s:
        waiting = s.execute(select(UnmatchedOrder)).scalar_one()
    assert waiting.status == "waiting" and waiting.candidate_ids == [stranger.id]
    # the stranger asks about "their" course: nothing about the purchase or an access date
    say(shop, clock, STRANGER, "Когда заканчивается мой доступ к курсу?")
    reply = last_reply(shop, STRANGER)
    assert "доступ до" not in reply and "оплачен" not in reply and "Ваши курсы" not in reply
    assert "менеджер проверит" in reply


def prove_by_staff(app: Any, vk_id: int, field: str) -> None:
    from app.crm import cards

    with services(app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()
        cards.prove_contact(s, client, field, getattr(client, field), "staff")


def test_olga_with_a_proven_email_gets_her_order_despite_the_claim(shop: Any, clock: Any) -> None:
    first = dict(OLGA_ORDER, order_id="SHOP-1", vk_id=OLGA)
    assert pay(shop, first).status_code == 201
    # carried by an order, the e-mail proves nothing (issue 20.4): staff prove it
    assert card(shop, OLGA).email_verified is False
    assert card(shop, OLGA).email_source == "order:SHOP-1"
    prove_by_staff(shop, OLGA, "email")
    say(shop, clock, STRANGER, "мой email olga.k@example.com")
    resp = pay(shop, dict(OLGA_ORDER, order_id="SHOP-2"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert purchases_of(shop, OLGA) == ["SHOP-1", "SHOP-2"]
    assert purchases_of(shop, STRANGER) == []


def test_a_claim_never_replaces_a_proven_contact(shop: Any, clock: Any) -> None:
    assert pay(shop, dict(OLGA_ORDER, order_id="SHOP-1", vk_id=OLGA)).status_code == 201
    prove_by_staff(shop, OLGA, "email")
    say(shop, clock, OLGA, "мой новый email other@example.com")
    olga = card(shop, OLGA)
    assert (olga.email, olga.email_verified) == ("olga.k@example.com", True)


def test_an_order_replaces_a_claim_of_the_same_person_but_proves_nothing(shop: Any,
                                                                         clock: Any) -> None:
    say(shop, clock, OLGA, "мой email typo@example.com")
    assert pay(shop, dict(OLGA_ORDER, order_id="SHOP-5", vk_id=OLGA)).status_code == 201
    olga = card(shop, OLGA)
    assert (olga.email, olga.email_verified) == ("olga.k@example.com", False)


def test_csv_import_reports_unmatched_and_cli_lists_and_confirms(shop: Any, clock: Any,
                                                                 tmp_path: Any) -> None:
    say(shop, clock, STRANGER, "телефон +7 912 000-11-22")
    path = tmp_path / "orders.csv"
    path.write_text("order_id,vk_id,email,phone,product_id,amount_rub,paid_at\n"
                    "CSV-9,,,89120001122,piano-from-zero,14900,2026-11-20\n", encoding="utf-8")
    runner = shop.test_cli_runner()
    out = runner.invoke(args=["purchases", "import", str(path)])
    assert out.exit_code == 0, out.output
    assert "created 0, duplicates 0, errors 0" in out.output and "CSV-9" in out.output
    listed = runner.invoke(args=["purchases", "unmatched"])
    assert listed.exit_code == 0 and "CSV-9" in listed.output and str(STRANGER) in listed.output
    bad = runner.invoke(args=["purchases", "unmatched", "--confirm", "CSV-9", "--vk-id", "1"])
    assert bad.exit_code == 1 and purchases_of(shop, STRANGER) == []
    done = runner.invoke(args=["purchases", "unmatched", "--confirm", "CSV-9",
                               "--vk-id", str(STRANGER)])
    assert done.exit_code == 0, done.output
    assert purchases_of(shop, STRANGER) == ["CSV-9"]
    assert card(shop, STRANGER).phone_verified is True
    assert "no unmatched orders" in runner.invoke(args=["purchases", "unmatched"]).output



def _csrf(c: Any) -> str:
    with c.session_transaction() as sess:
        return sess["csrf_token"]


def test_panel_lists_and_confirms_with_one_click(shop: Any, clock: Any) -> None:
    say(shop, clock, STRANGER, "мой email olga.k@example.com")
    assert pay(shop, OLGA_ORDER).status_code == 202
    c = logged_in(shop)
    page = c.get("/admin/purchases/unmatched").get_data(as_text=True)
    assert "SHOP-77" in page and "Привязать" in page
    with services(shop).db.session() as s:
        u = s.execute(select(UnmatchedOrder)).scalar_one()
    stranger = card(shop, STRANGER)
    r = c.post(f"/admin/purchases/unmatched/{u.id}/confirm",
               data={"csrf_token": _csrf(c), "client_id": str(stranger.id)})
    assert r.status_code == 302
    assert purchases_of(shop, STRANGER) == ["SHOP-77"]
    assert card(shop, STRANGER).email_verified is True
    assert "unmatched-empty" in c.get("/admin/purchases/unmatched").get_data(as_text=True)


def test_panel_dismiss_and_staff_tick_proves_a_claim(shop: Any, clock: Any) -> None:
    say(shop, clock, STRANGER, "мой email olga.k@example.com")
    pay(shop, OLGA_ORDER)
    c = logged_in(shop)
    with services(shop).db.session() as s:
        u = s.execute(select(UnmatchedOrder)).scalar_one()
    c.post(f"/admin/purchases/unmatched/{u.id}/dismiss", data={"csrf_token": _csrf(c)})
    with services(shop).db.session() as s:
        assert s.get(UnmatchedOrder, u.id).status == "dismissed"
    assert "не подтверждён" in c.get(f"/admin/clients/{STRANGER}").get_data(as_text=True)
    form = {"csrf_token": _csrf(c), "first_name": "", "last_name": "",
            "email": "olga.k@example.com", "phone": "", "timezone": "Europe/Moscow",
            "funnel_stage": "cold", "tags": "", "notes": ""}
    c.post(f"/admin/clients/{STRANGER}", data=form)
    assert card(shop, STRANGER).email_verified is False  # saving other fields proves nothing
    c.post(f"/admin/clients/{STRANGER}", data={**form, "email_verified": "1"})
    assert card(shop, STRANGER).email_verified is True
    assert card(shop, STRANGER).email_source == "staff"


def test_the_model_prompt_says_a_manager_will_check() -> None:
    from datetime import datetime, timezone

    from app.brain.contract import ClientCard
    from app.brain.prompts.render import render_card

    now = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc)
    assert "менеджер проверит" not in render_card(ClientCard(vk_id=1), now)
    text = render_card(ClientCard(vk_id=1, order_check_pending=True), now)
    assert "Не подтверждай покупку и сроки доступа" in text and "менеджер проверит" in text
