"""Payment links end to end: a client asks for a link, gets exactly one YooKassa payment (their
VK id in its metadata, the amount code decided), pays it, and the purchase is recorded once —
all against a real HTTP YooKassa stand-in (tests/fakes) and the VK stand-in."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import func, select

from app.composition.background import leader
from app.composition.factory import parts as services
from app.models import Client, IssuedOffer, PaymentEvent, PaymentLink, Purchase, Turn
from app.payments import (
    PaymentRejected,
    PaymentRequest,
    PaymentUnavailable,
    YooKassaClient,
    parse_notification,
)
from tests.fakes.yookassa_server import SECRET_KEY, SHOP_ID, FakeYooKassaServer
from tests.helpers import csrf_token, drain, logged_in, message_new, post

PRICE, CAP = 14900, 20  # «Фортепиано с нуля» in knowledge_base.json; offers.max_discount_percent
PEER = 5001


@pytest.fixture(scope="module")
def yk_server() -> Iterator[FakeYooKassaServer]:
    with FakeYooKassaServer() as server:
        yield server


@pytest.fixture()
def yk(yk_server: FakeYooKassaServer) -> FakeYooKassaServer:
    yk_server.api.reset()
    return yk_server


@pytest.fixture()
def pay_app(make_app: Callable[..., Any], yk: FakeYooKassaServer) -> Any:
    return make_app(yookassa_shop_id=SHOP_ID, yookassa_secret_key=SECRET_KEY,
                    yookassa_api_url=yk.base_url)


def ask(app: Any, clock: Any, text: str, peer: int = PEER) -> None:
    post(app.test_client(), message_new(peer, text))
    clock.advance(9)
    drain(app)


def notify(app: Any, body: Any) -> Any:
    return app.test_client().post("/hooks/yookassa", data=json.dumps(body),
                                  content_type="application/json")


def wait_settled(app: Any, timeout: float = 10) -> None:
    """The hook answers at once; the hint is settled right after, on a worker thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with services(app).db.session() as s:
            if s.execute(select(func.count()).select_from(PaymentEvent).where(
                    PaymentEvent.processed_at.is_(None))).scalar() == 0:
                return
        time.sleep(0.05)
    raise AssertionError("payment hint not settled")


def count(app: Any, model: Any) -> int:
    with services(app).db.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_link_pay_replay_unknown(pay_app: Any, vk: Any, yk: FakeYooKassaServer, clock: Any) -> None:
    ask(pay_app, clock, "Здравствуйте! Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    assert len(yk.api.creates) == 1 and not yk.api.refused
    body = yk.api.creates[0]
    assert body["metadata"]["vk_id"] == str(PEER)
    assert body["metadata"]["product_id"] == "piano-from-zero"
    amount = float(body["amount"]["value"])
    assert PRICE * (100 - CAP) / 100 <= amount <= PRICE
    assert body["confirmation"]["return_url"] == "https://vk.com/im?sel=-1"
    (pid,) = yk.api.payments
    url = yk.api.payments[pid]["confirmation"]["confirmation_url"]
    reply = vk.emulator.sent(PEER)[-1]
    assert "14 900 ₽" in reply.text and reply.keyboard and url in reply.keyboard  # a button
    with services(pay_app).db.session() as s:
        turn = s.execute(select(Turn)).scalars().all()[-1]
        assert turn.analysis["pay_product_id"] == "piano-from-zero"
        assert turn.decisions["payment"]["url"] == url and turn.status == "done"

    ask(pay_app, clock, "Пришлите, пожалуйста, ссылку на оплату ещё раз")
    assert len(yk.api.creates) == 1  # the pending payment is reused
    assert url in (vk.emulator.sent(PEER)[-1].keyboard or "")

    yk.api.succeed(pid)
    before = len(vk.emulator.sent(PEER))
    assert notify(pay_app, yk.api.notification(pid)).status_code == 200
    wait_settled(pay_app)
    with services(pay_app).db.session() as s:
        purchase = s.execute(select(Purchase)).scalar_one()
        assert (purchase.order_id, purchase.amount_rub) == (f"yookassa:{pid}", PRICE)
        client = s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()
        assert client.funnel_stage == "client"
        link = s.execute(select(PaymentLink)).scalar_one()
        assert (link.status, link.thanked, link.access) == ("succeeded", True, "waiting")
    thanks = vk.emulator.sent(PEER)[before:]
    assert len(thanks) == 1 and thanks[0].text.startswith("Спасибо за оплату")
    assert any("откройте доступ" in m.text and pid in m.text for m in vk.emulator.sent(777))

    for _ in range(2):  # a replayed notification changes nothing
        assert notify(pay_app, yk.api.notification(pid)).status_code == 200
        wait_settled(pay_app)
    assert count(pay_app, Purchase) == 1 and len(vk.emulator.sent(PEER)) == before + 1

    forged = "2f1e1b8e-000f-5000-9000-1a2b3c4d5e6f"  # a well-formed id the provider never made
    assert notify(pay_app, yk.api.notification(forged)).status_code == 200
    wait_settled(pay_app)
    assert count(pay_app, Purchase) == 1
    with services(pay_app).db.session() as s:
        event = s.execute(select(PaymentEvent).where(PaymentEvent.payment_id == forged)).scalar_one()
        assert event.outcome.startswith("unknown")

    from app.reports.summary import ReportSettings, summary_for

    p = services(pay_app)
    pay = summary_for(p.db, p.clock.now(), ReportSettings.of(p.settings), p.kb_store,
                      30)["payments"]
    assert (pay["links_sent"], pay["paid"], pay["paid_rub"], pay["conversion"]) == (1, 1, PRICE, 1.0)
    assert pay["paid_after_dialog_rub"] == PRICE and pay["awaiting_access"] == 1

    panel = logged_in(pay_app)
    page = panel.get("/admin/payments").get_data(as_text=True)
    assert 'id="awaiting-access"' in page and pid in page
    with services(pay_app).db.session() as s:
        link_id = s.execute(select(PaymentLink.id)).scalar_one()
    panel.post(f"/admin/payments/{link_id}/access-opened", data={"csrf_token": csrf_token(panel)})
    assert 'id="awaiting-empty"' in panel.get("/admin/payments").get_data(as_text=True)
    card = panel.get(f"/admin/clients/{PEER}").get_data(as_text=True)
    assert "client-payment-links" in card and "оплачен" in card


def test_granted_discount_lowers_the_amount_and_is_redeemed(pay_app: Any, vk: Any,
                                                             yk: FakeYooKassaServer,
                                                             clock: Any) -> None:
    ask(pay_app, clock, "Здравствуйте! Интересует курс «Фортепиано с нуля»")
    with services(pay_app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()
        s.add(IssuedOffer(client_id=client.id, offer_id="first-purchase", kind="discount",
                          code="PIANO10-TEST01", percent=10, product_id="piano-from-zero",
                          expires_at=clock.now() + timedelta(days=3), created_at=clock.now()))
    ask(pay_app, clock, "Как оплатить?")
    (body,) = yk.api.creates
    assert body["amount"]["value"] == "13410.00"
    assert "13 410 ₽" in vk.emulator.sent(PEER)[-1].text
    (pid,) = yk.api.payments
    yk.api.succeed(pid)
    notify(pay_app, yk.api.notification(pid))
    wait_settled(pay_app)
    with services(pay_app).db.session() as s:
        assert s.execute(select(IssuedOffer)).scalar_one().redeemed is True
        assert s.execute(select(Purchase)).scalar_one().amount_rub == 13410


def test_canceled_payment_marks_the_link_and_records_nothing(pay_app: Any, vk: Any,
                                                            yk: FakeYooKassaServer,
                                                            clock: Any) -> None:
    ask(pay_app, clock, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    (pid,) = yk.api.payments
    # a forged "succeeded" for a payment still pending records nothing
    notify(pay_app, yk.api.notification(pid))
    wait_settled(pay_app)
    assert count(pay_app, Purchase) == 0
    yk.api.cancel(pid)
    notify(pay_app, yk.api.notification(pid, "payment.canceled"))
    wait_settled(pay_app)
    with services(pay_app).db.session() as s:
        assert s.execute(select(PaymentLink)).scalar_one().status == "canceled"
    assert count(pay_app, Purchase) == 0
    ask(pay_app, clock, "Пришлите ссылку на оплату ещё раз, пожалуйста")
    assert len(yk.api.creates) == 2  # a cancelled link is not reused


def test_an_old_link_expired_at_the_provider_is_replaced(pay_app: Any, vk: Any,
                                                          yk: FakeYooKassaServer,
                                                          clock: Any) -> None:
    ask(pay_app, clock, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    (first,) = yk.api.payments
    clock.advance(3600)
    ask(pay_app, clock, "Пришлите ссылку на оплату ещё раз")
    assert len(yk.api.creates) == 1  # still pending at the provider: reused
    yk.api.cancel(first)  # YooKassa cancels an unpaid payment after a while
    clock.advance(3600)
    ask(pay_app, clock, "Пришлите ссылку на оплату ещё раз")
    assert len(yk.api.creates) == 2
    second = [p for p in yk.api.payments if p != first][0]
    assert yk.api.payments[second]["confirmation"]["confirmation_url"] \
        in (vk.emulator.sent(PEER)[-1].keyboard or "")


def test_provider_outage_gives_an_honest_reply(pay_app: Any, vk: Any, yk: FakeYooKassaServer,
                                               clock: Any) -> None:
    yk.api.outage = True
    ask(pay_app, clock, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    reply = vk.emulator.sent(PEER)[-1].text
    assert "не получилось" in reply and "https://filimonov-piano.ru/s-nulya" in reply
    with services(pay_app).db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        assert turn.status == "done" and turn.decisions["payment"]["status"] == "unavailable"
        key = s.execute(select(PaymentLink)).scalar_one().idempotency_key
    yk.api.outage = False
    ask(pay_app, clock, "Пришлите ссылку на оплату, пожалуйста")
    assert yk.api.by_key == {key: next(iter(yk.api.payments))}  # retried with the same key


def test_link_as_text_when_the_app_shows_no_keyboards(pay_app: Any, vk: Any,
                                                      yk: FakeYooKassaServer, clock: Any) -> None:
    body = message_new(PEER, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    body["object"]["client_info"] = {"keyboard": False, "inline_keyboard": False}
    post(pay_app.test_client(), body)
    clock.advance(9)
    drain(pay_app)
    (pid,) = yk.api.payments
    reply = vk.emulator.sent(PEER)[-1]
    assert not reply.keyboard
    assert yk.api.payments[pid]["confirmation"]["confirmation_url"] in reply.text
    assert "14 900 ₽" in reply.text


def test_hook_refuses_bodies_it_cannot_read(pay_app: Any) -> None:
    c = pay_app.test_client()
    assert c.post("/hooks/yookassa", data="{", content_type="application/json").status_code == 400
    bad = {"event": "payment.succeeded", "object": {"id": "../../etc"}}
    assert notify(pay_app, bad).status_code == 400
    assert count(pay_app, PaymentEvent) == 0


def test_hook_without_a_provider_is_off(app: Any) -> None:
    assert notify(app, {"event": "payment.succeeded", "object": {"id": "x1"}}).status_code == 503


def test_client_checks_credentials_and_limits(yk: FakeYooKassaServer) -> None:
    good = YooKassaClient(SHOP_ID, SECRET_KEY, yk.base_url, timeout_s=3)
    request = PaymentRequest("k" * 32, 100, "Курс " * 60, "https://vk.com/im?sel=-1",
                             {"vk_id": "1", "product_id": "p"})
    payment = good.create_payment(request)
    assert payment.status == "pending" and payment.confirmation_url
    assert len(yk.api.creates[0]["description"]) <= 128
    assert good.create_payment(request).id == payment.id  # same key, same payment
    assert good.get_payment("no-such-payment") is None
    with pytest.raises(PaymentRejected):
        YooKassaClient(SHOP_ID, "wrong", yk.base_url).create_payment(request)
    with pytest.raises(ValueError):
        good.create_payment(PaymentRequest("k2", 1, "x", "https://x.ru",
                                           {f"k{i}": "v" for i in range(17)}))
    yk.api.outage = True
    with pytest.raises(PaymentUnavailable):
        good.get_payment(payment.id)
    with pytest.raises(PaymentUnavailable):
        YooKassaClient(SHOP_ID, SECRET_KEY, "http://127.0.0.1:9/v3", timeout_s=1).get_payment("a")


def test_parse_notification() -> None:
    hint = parse_notification({"type": "notification", "event": "payment.canceled",
                               "object": {"id": "abc-1"}})
    assert (hint.payment_id, hint.event) == ("abc-1", "payment.canceled")
    for bad in ([], {"event": "x", "object": {"id": "a"}}, {"event": "payment.succeeded"}):
        with pytest.raises(ValueError):
            parse_notification(bad)


def test_gemini_analysis_names_the_product_and_the_reply_stage_knows(
        make_app: Any, vk: Any, yk: FakeYooKassaServer, clock: Any) -> None:
    from tests.brain.test_brain_gemini import ANALYSIS
    from tests.fakes.gemini_server import FakeGeminiServer, json_response, text_response

    with FakeGeminiServer() as gemini:
        app = make_app(yookassa_shop_id=SHOP_ID, yookassa_secret_key=SECRET_KEY,
                       yookassa_api_url=yk.base_url, gemini_api_key="test-key",
                       gemini_base_url=gemini.base_url)
        analysis = {**ANALYSIS, "funnel_stage": "hot", "intent": "хочет оплатить курс",
                    "kb_ids": ["piano-from-zero"], "pay_product_id": "piano-from-zero"}
        gemini.push(json_response(analysis),
                    text_response("Отличный выбор, Анна! Курс «Фортепиано с нуля» ждёт вас."))
        ask(app, clock, "Всё, решила: оформляем, как мне заплатить за него?")
        reply_prompt = gemini.requests[-1].contents_text
    (body,) = yk.api.creates
    assert body["metadata"] == {**body["metadata"], "vk_id": str(PEER),
                                "product_id": "piano-from-zero"}
    assert "Ссылка на оплату «Фортепиано с нуля» на 14900 ₽ готова" in reply_prompt
    reply = vk.emulator.sent(PEER)[-1]
    assert reply.text.startswith("Отличный выбор") and "14 900 ₽" in reply.text
    assert yk.api.payments[next(iter(yk.api.payments))]["confirmation"]["confirmation_url"] \
        in (reply.keyboard or "")


def test_concurrent_requests_make_one_payment(pay_app: Any, vk: Any, yk: FakeYooKassaServer,
                                              clock: Any) -> None:
    import threading

    ask(pay_app, clock, "Здравствуйте")
    p = services(pay_app)
    assert p.payments is not None and p.turns.payments is p.payments.links
    with p.db.session() as s:
        client_id = s.execute(select(Client.id).where(Client.vk_id == PEER)).scalar_one()
    offers: list[Any] = []
    threads = [threading.Thread(target=lambda: offers.append(p.payments.links.link_for(
        client_id, "piano-from-zero", p.kb_store.current, None))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(yk.api.payments) == 1 and count(pay_app, PaymentLink) == 1
    assert {o.url for o in offers} == {yk.api.payments[next(iter(yk.api.payments))]
                                       ["confirmation"]["confirmation_url"]}


def test_a_hint_kept_through_an_outage_is_settled_by_the_scheduler(pay_app: Any, vk: Any,
                                                                   yk: FakeYooKassaServer,
                                                                   clock: Any) -> None:
    ask(pay_app, clock, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    (pid,) = yk.api.payments
    yk.api.succeed(pid)
    yk.api.outage = True  # the notification arrives, but YooKassa cannot be asked right now
    assert notify(pay_app, yk.api.notification(pid)).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with services(pay_app).db.session() as s:
            event = s.execute(select(PaymentEvent)).scalar_one()
            if event.attempts:
                break
        time.sleep(0.05)
    assert event.processed_at is None and event.outcome.startswith("retry")
    assert count(pay_app, Purchase) == 0
    yk.api.outage = False
    scheduler = leader(services(pay_app))  # the leader's jobs: reminders, …, payments
    assert "payments" in [job.name for job in scheduler.jobs]
    try:
        scheduler.tick()
    finally:
        scheduler.stop()
    assert count(pay_app, Purchase) == 1
    assert sum("Спасибо за оплату" in m.text for m in vk.emulator.sent(PEER)) == 1


def test_shop_opens_access_itself_no_staff_alert(make_app: Any, vk: Any, yk: FakeYooKassaServer,
                                                 clock: Any) -> None:
    app = make_app(yookassa_shop_id=SHOP_ID, yookassa_secret_key=SECRET_KEY,
                   yookassa_api_url=yk.base_url, payment_shop_opens_access=True)
    ask(app, clock, "Беру курс «Фортепиано с нуля», пришлите ссылку на оплату")
    (pid,) = yk.api.payments
    yk.api.succeed(pid)
    notify(app, yk.api.notification(pid))
    wait_settled(app)
    with services(app).db.session() as s:
        assert s.execute(select(PaymentLink.access)).scalar_one() == "by_shop"
    assert not any(pid in m.text for m in vk.emulator.sent(777))
    thanks = [m.text for m in vk.emulator.sent(PEER) if m.text.startswith("Спасибо за оплату")]
    assert len(thanks) == 1 and "Менеджер откроет" in thanks[0]  # the KB's next step


def test_settings_need_both_yookassa_keys() -> None:
    from pydantic import ValidationError

    from app.platform.config import Settings

    with pytest.raises(ValidationError, match="YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY"):
        Settings(yookassa_shop_id="1")
    assert Settings(vk_group_id=42).return_url == "https://vk.com/im?sel=-42"
    assert Settings(payment_return_url="https://school.ru/thanks/").return_url \
        == "https://school.ru/thanks"
