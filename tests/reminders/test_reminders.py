"""Reminders end to end: agreement → exact reminder → fired once by the leader, re-checks,
quiet hours, weekly cap, restarts, access-extension offers."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.composition.background import leader
from app.composition.factory import parts as services
from app.models import Client, Dialog, Purchase, Reminder, Turn
from app.runtime.leader import Leader
from app.turns.proactive import fire_due
from tests.helpers import drain, message_new, post

MSK = timezone(timedelta(hours=3))


def agree(app, clock, peer: int, text: str) -> Reminder:  # noqa: ANN001
    post(app.test_client(), message_new(peer, text))
    clock.advance(9)
    drain(app)
    with services(app).db.session() as s:
        return s.execute(select(Reminder).join(Client).where(Client.vk_id == peer)
                         .order_by(Reminder.id.desc())).scalars().first()


def reminder(app, rid: int) -> Reminder:  # noqa: ANN001
    with services(app).db.session() as s:
        return s.get(Reminder, rid)


def test_agreement_in_a_minute_fires_once_with_two_instances_racing(make_app, vk, clock) -> None:  # noqa: ANN001
    app_a, app_b = make_app(), make_app()
    r = agree(app_a, clock, 300, "Сейчас неудобно, напишите мне через минуту")
    assert r is not None and r.status == "pending" and not r.is_default
    assert r.due_at == datetime(2026, 11, 25, 14, 31, tzinfo=MSK)
    clock.advance(120)
    scheds = [leader(services(a)) for a in (app_a, app_b)]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run(sc: Leader) -> None:
        barrier.wait()
        results.append(sc.tick())

    threads = [threading.Thread(target=run, args=(sc,)) for sc in scheds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1]  # only the leader fired
    assert [sc.lock.held for sc in scheds].count(True) == 1
    sent = vk.emulator.sent(300)
    assert len(sent) == 2 and "договаривались" in sent[1].text.lower()
    assert reminder(app_a, r.id).status == "sent"
    for sc in scheds:
        sc.tick()
        sc.stop()
    assert len(vk.emulator.sent(300)) == 2


def test_lost_leader_is_replaced(make_app) -> None:  # noqa: ANN001
    a, b = leader(services(make_app())), leader(services(make_app()))
    a.tick()
    b.tick()
    assert a.lock.held and not b.lock.held
    a.stop()  # the leader goes away (its connection closes)
    b.tick()
    assert b.lock.held
    b.stop()


def test_restart_between_agreement_and_due_time(make_app, vk, clock) -> None:  # noqa: ANN001
    first = make_app()
    r = agree(first, clock, 301, "Давайте завтра вечером обсудим")
    vk.emulator.rules.subscribe(301, "confirmed_notification", 1)  # beyond VK's 24 h window
    services(first).shutdown()
    assert r.due_at == datetime(2026, 11, 26, 19, 0, tzinfo=MSK)
    clock.set(datetime(2026, 11, 26, 19, 5, tzinfo=MSK))
    second = make_app()
    assert fire_due(services(second).turns) == 1
    assert reminder(second, r.id).status == "sent" and len(vk.emulator.sent(301)) == 2
    assert vk.emulator.sent(301)[-1].intent == "confirmed_notification"


def test_late_beyond_grace_is_replanned_not_sent(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 302, "напишите завтра в 12:00")
    clock.set(datetime(2026, 11, 27, 8, 30, tzinfo=MSK) + timedelta(hours=12))  # 20:30 next day
    fire_due(services(app).turns)
    got = reminder(app, r.id)
    assert got.status == "pending" and got.due_at > clock.now()
    assert len(vk.emulator.sent(302)) == 1


def test_client_wrote_since_agreement_skips(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 303, "напишите через 2 часа")
    post(app.test_client(), message_new(303, "Хотя нет, я уже разобралась, спасибо"))
    clock.advance(3 * 3600)
    drain(app)
    fire_due(services(app).turns)
    got = reminder(app, r.id)
    assert got.status == "skipped" and "wrote" in got.status_reason


def test_bought_the_discussed_product_skips(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 304, "напишите через час")
    svc = services(app)
    with svc.db.session() as s:
        row = s.get(Reminder, r.id)
        row.product_id = "piano-from-zero" if svc.kb_store.current.product("piano-from-zero") \
            else svc.kb_store.current.products[0].id
        s.add(Purchase(order_id="o-304", client_id=row.client_id, product_id=row.product_id,
                       amount_rub=100, paid_at=clock.now() + timedelta(minutes=5)))
    clock.advance(2 * 3600)
    fire_due(svc.turns)
    assert reminder(app, r.id).status == "skipped"


def test_blocked_messages_skip(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 305, "напишите через час")
    post(app.test_client(), {"type": "message_deny", "group_id": 1, "secret": "s3cret",
                             "event_id": "deny-305", "object": {"user_id": 305}})
    clock.advance(2 * 3600)
    fire_due(services(app).turns)
    assert reminder(app, r.id).status == "skipped"


def test_human_took_over_replans(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 306, "напишите через час")
    with services(app).db.session() as s:
        d = s.execute(select(Dialog).join(Client).where(Client.vk_id == 306)).scalar_one()
        d.human_until = clock.now() + timedelta(hours=5)
    clock.advance(2 * 3600)
    fire_due(services(app).turns)
    got = reminder(app, r.id)
    assert got.status == "pending" and got.due_at >= clock.now() + timedelta(hours=3)


def test_quiet_hours_move_to_next_allowed_minute(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(quiet_hours="21:00-09:00")
    r = agree(app, clock, 307, "напишите сегодня в 23:00")
    clock.set(datetime(2026, 11, 25, 23, 1, tzinfo=MSK))
    fire_due(services(app).turns)
    got = reminder(app, r.id)
    assert got.status == "pending"
    assert got.due_at == datetime(2026, 11, 26, 9, 0, tzinfo=MSK)
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=MSK))
    fire_due(services(app).turns)
    assert reminder(app, r.id).status == "sent"


def test_weekly_cap_of_proactive_messages(make_app, vk, clock) -> None:  # noqa: ANN001
    app = make_app(max_proactive_per_week=1)
    r1 = agree(app, clock, 308, "напишите через час")
    clock.advance(3600 + 60)
    fire_due(services(app).turns)
    assert reminder(app, r1.id).status == "sent"
    r2 = agree(app, clock, 308, "ок, тогда напишите через 2 часа")
    clock.advance(2 * 3600 + 60)
    fire_due(services(app).turns)
    got = reminder(app, r2.id)
    assert got.status == "pending" and got.due_at > clock.now() + timedelta(days=6)


def test_do_not_write_cancels_and_vague_gets_default(app, vk, clock) -> None:  # noqa: ANN001
    vague = agree(app, clock, 309, "Спасибо, напишите попозже")
    assert vague.is_default and vague.due_at == datetime(2026, 11, 28, 12, 0, tzinfo=MSK)
    agree(app, clock, 309, "Не пишите мне больше, пожалуйста")
    assert reminder(app, vague.id).status == "cancelled"


def test_new_agreement_replaces_the_pending_one(app, vk, clock) -> None:  # noqa: ANN001
    old = agree(app, clock, 310, "напишите в пятницу")
    new = agree(app, clock, 310, "а лучше напишите в понедельник вечером")
    assert reminder(app, old.id).status == "cancelled"
    assert new.due_at == datetime(2026, 11, 30, 19, 0, tzinfo=MSK)


def test_access_extension_offer_fires_once(app, vk, clock) -> None:  # noqa: ANN001
    svc = services(app)
    kb = svc.kb_store.current
    product = next(p for p in kb.products if p.extension and p.access_days)
    post(app.test_client(), message_new(311, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    with svc.db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == 311)).scalar_one()
        s.add(Purchase(order_id="o-311", client_id=client.id, product_id=product.id,
                       amount_rub=product.price_rub,
                       paid_at=clock.now() - timedelta(days=product.access_days - 3)))
    sched = leader(svc)
    sched.tick()
    sched.last_run.clear()
    sched.tick()
    sched.stop()
    sent = vk.emulator.sent(311)
    assert len(sent) == 2
    assert f"{product.extension.price_rub:,}".replace(",", " ") in sent[1].text.replace("\xa0", " ")
    with svc.db.session() as s:
        kinds = [t.kind for t in s.execute(select(Turn).order_by(Turn.id)).scalars()]
    assert kinds == ["reply", "access_extension"]


def test_reminder_whose_message_went_out_is_not_sent_again_after_a_crash(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 312, "напишите через час")
    clock.advance(3600 + 60)
    fire_due(services(app).turns)
    assert len(vk.emulator.sent(312)) == 2
    with services(app).db.session() as s:  # the process died before recording the outcome
        row = s.get(Reminder, r.id)
        row.status, row.claimed_until, row.sent_at = "sending", clock.now(), None
    clock.advance(300)
    fire_due(services(app).turns)
    assert len(vk.emulator.sent(312)) == 2 and reminder(app, r.id).status == "sent"


def test_reminder_waits_while_a_reply_to_the_client_is_due(app, vk, clock) -> None:  # noqa: ANN001
    r = agree(app, clock, 313, "напишите через час")
    clock.advance(3600 + 60)
    with services(app).db.session() as s:  # a reply turn is due or running in this dialog
        d = s.execute(select(Dialog).join(Client).where(Client.vk_id == 313)).scalar_one()
        d.claimed_until = clock.now() + timedelta(seconds=30)
    fire_due(services(app).turns)
    got = reminder(app, r.id)
    assert got.status == "pending" and "in progress" in got.status_reason
    assert got.due_at >= clock.now() + timedelta(minutes=4) and len(vk.emulator.sent(313)) == 1
