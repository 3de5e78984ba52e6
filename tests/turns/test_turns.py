"""One reply per burst, never twice: debounce, retries, racing workers, crashes, VK errors."""
from __future__ import annotations

import threading

from sqlalchemy import select

from app.composition.background import worker_pool
from app.composition.factory import parts as services
from app.models import Client, Message, Turn
from app.runtime.workers import WorkerPool
from app.turns import claims
from tests.helpers import drain, message_new, post


def test_burst_of_three_messages_gets_one_reply(app, vk, clock) -> None:  # noqa: ANN001
    c = app.test_client()
    for text in ("Здравствуйте!", "Хочу научиться играть на пианино", "Мне 40 лет, с нуля"):
        post(c, message_new(100, text))
        clock.advance(3)
    assert drain(app) == 0  # still inside the debounce window
    clock.advance(9)
    assert drain(app) == 1
    sent = vk.emulator.sent(100)
    assert len(sent) == 1 and sent[0].text.strip()
    assert vk.emulator.typing_events(100)
    with services(app).db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        assert turn.status == "done" and turn.analysis and turn.reply_text == sent[0].text
        assert {"load_ms", "brain_ms", "send_ms", "overhead_ms"} <= set(turn.timings)
    assert drain(app) == 0


def test_retry_storm_gives_one_reply(app, vk, clock) -> None:  # noqa: ANN001
    c = app.test_client()
    body = message_new(101, "Сколько стоит курс для начинающих?", event_id="storm")
    for i in range(5):
        post(c, body, headers={"X-Retry-Counter": str(i)})
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(101)) == 1


def test_message_during_a_turn_gets_its_own_reply(app, vk, clock) -> None:  # noqa: ANN001
    c = app.test_client()
    post(c, message_new(102, "Привет"))
    clock.advance(9)
    drain(app)
    post(c, message_new(102, "А есть рассрочка?"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(102)) == 2


def test_two_workers_racing_answer_once(make_app, vk, clock) -> None:  # noqa: ANN001
    app_a, app_b = make_app(), make_app()
    c = app_a.test_client()
    for peer in range(200, 210):
        post(c, message_new(peer, "Здравствуйте, подскажите про курсы"))
    clock.advance(9)
    pools = [worker_pool(services(a), 0, 0.01) for a in (app_a, app_b)]
    barrier = threading.Barrier(4)

    def work(pool: WorkerPool) -> None:
        barrier.wait()
        while pool.run_once():
            pass

    threads = [threading.Thread(target=work, args=(p,)) for p in pools + pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for peer in range(200, 210):
        assert len(vk.emulator.sent(peer)) == 1, peer
    with services(app_a).db.session() as s:
        assert len(s.execute(select(Turn)).scalars().all()) == 10


def test_turn_of_a_killed_process_is_answered_after_claim_timeout(app, vk, clock) -> None:  # noqa: ANN001
    svc = services(app)
    post(app.test_client(), message_new(103, "Добрый день! Есть курс для детей?"))
    clock.advance(9)
    with svc.db.session() as s:  # a worker claims the turn, then "dies" before answering
        dead = claims.claim_next(s, clock.now(), svc.settings.claim_timeout_s, 5)
    assert dead is not None
    assert drain(app) == 0  # the claim is still valid: nobody else takes it
    clock.advance(svc.settings.claim_timeout_s + 1)
    assert drain(app) == 1
    sent = vk.emulator.sent(103)
    assert len(sent) == 1
    with svc.db.session() as s:
        turn = s.get(Turn, dead.turn_id)
        assert turn.status == "done" and turn.attempts == 2


def test_crash_after_send_is_not_sent_twice(app, vk, clock) -> None:  # noqa: ANN001
    """The same turn sent again uses the same random_id: VK drops the repeat."""
    svc = services(app)
    post(app.test_client(), message_new(104, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    with svc.db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        turn.status = "running"  # as if the process died right after the VK send
        dialog_id = turn.dialog_id
        from app.models import Dialog
        d = s.get(Dialog, dialog_id)
        d.claimed_turn_id, d.reply_due_at = turn.id, clock.now()
        d.answered_upto_id = 0
    drain(app)
    assert len(vk.emulator.sent(104)) == 1


def test_vk_901_marks_client_not_writable(app, vk, clock) -> None:  # noqa: ANN001
    vk.emulator.set_cannot_send(105)
    post(app.test_client(), message_new(105, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    with services(app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == 105)).scalar_one()
        assert client.can_write is False
        assert s.execute(select(Turn)).scalar_one().status == "undeliverable"


def test_vk_flood_error_postpones_and_retries(app, vk, clock) -> None:  # noqa: ANN001
    vk.emulator.fail_next("messages.send", 9, times=10)
    post(app.test_client(), message_new(106, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    assert vk.emulator.sent(106) == []
    clock.advance(120)
    vk.emulator.reset()
    drain(app)
    assert len(vk.emulator.sent(106)) == 1


def test_bot_own_message_reply_event_is_not_a_handoff(app, vk, clock) -> None:  # noqa: ANN001
    c = app.test_client()
    post(c, message_new(107, "Привет"))
    clock.advance(9)
    drain(app)
    sent = vk.emulator.sent(107)[0]
    echo = {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "echo-1",
            "object": {"id": sent.id, "peer_id": 107, "from_id": -1, "text": sent.text,
                       "random_id": sent.random_id, "date": 1}}
    post(c, echo)
    staff = {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "staff-1",
             "object": {"id": 99999, "peer_id": 107, "from_id": -1, "text": "Анна, это Ольга",
                        "admin_author_id": 555, "date": 1}}
    post(c, staff)
    with services(app).db.session() as s:
        rows = s.execute(select(Message).where(Message.direction == "out")).scalars().all()
        assert [m.source for m in rows] == ["bot", "staff"]
    post(c, message_new(107, "Спасибо!"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(107)) == 1  # paused: a person took the dialog over


def test_echo_of_a_panel_message_is_not_stored_twice(app, vk, clock) -> None:  # noqa: ANN001
    """The panel stores a staff row (with its random_id) before sending; VK's echo may come
    back before the VK id is saved: the random_id still recognises it."""
    c = app.test_client()
    post(c, message_new(108, "Привет"))
    svc = services(app)
    with svc.db.session() as s:
        from app.models import Dialog
        d = s.execute(select(Dialog)).scalar_one()
        s.add(Message(dialog_id=d.id, direction="out", source="staff", text="Здравствуйте!",
                      random_id=424242, attachments=[]))
    echo = {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "echo-108",
            "object": {"id": 5555, "peer_id": 108, "from_id": -1, "text": "Здравствуйте!",
                       "random_id": 424242, "admin_author_id": 9, "date": 1}}
    post(c, echo)
    with svc.db.session() as s:
        staff = s.execute(select(Message).where(Message.source == "staff")).scalars().all()
    assert len(staff) == 1


def test_idle_pool_polls_the_database_once_per_interval_not_once_per_thread(app) -> None:  # noqa: ANN001
    import time

    pool = worker_pool(services(app), 16, 0.1)
    calls = []
    real = pool._claim

    def counting():  # noqa: ANN202
        calls.append(1)
        return real()

    pool._claim = counting  # type: ignore[method-assign]
    pool.start()
    time.sleep(1.0)
    pool.stop()
    assert 3 <= len(calls) <= 30  # ~1 per 0.1 s for the whole pool (16 threads would make ~160)


def test_a_client_who_writes_again_can_be_answered_again(app, vk, clock) -> None:  # noqa: ANN001
    vk.emulator.set_cannot_send(109)
    post(app.test_client(), message_new(109, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    vk.emulator.reset()  # the client allowed messages again and writes
    post(app.test_client(), message_new(109, "Вы тут?"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(109)) == 1


def test_retry_delays_grow_and_are_capped() -> None:
    from app.turns.pipeline import retry_delay

    assert [retry_delay(a) for a in (1, 2, 3, 6, 9)] == [30, 60, 120, 600, 600]
