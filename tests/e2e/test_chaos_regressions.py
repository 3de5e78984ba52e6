"""Regressions for what the chaos, fuzz and abuse runs in bench/ found (see docs/benchmarks.md,
"Faults and abuse"). A test marked xfail(strict=True) pins a finding that is not fixed yet:
when the fix lands the test passes, the strict xfail fails, and the marker must go."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.knowledge.base import KnowledgeBaseError, load_kb
from app.models import Client, Dialog, Message, ProcessedEvent, Turn
from tests.helpers import HookedBrain, drain, message_new, post
from tests.pg import ROOT


def _status(app, body) -> int:  # noqa: ANN001
    """The HTTP status, or 500 when the view raised (TESTING propagates exceptions)."""
    try:
        return post(app.test_client(), body).status_code
    except Exception:  # noqa: BLE001 - an unhandled exception is a 500 under gunicorn
        return 500


# ---------------------------------------------------------------------------- callback input

def test_nul_character_in_text_is_not_a_server_error(app) -> None:  # noqa: ANN001
    assert _status(app, message_new(901, "при\u0000вет")) == 400  # refused (benchmarks.md)


def test_nul_character_in_event_id_is_not_a_server_error(app) -> None:  # noqa: ANN001
    assert _status(app, message_new(902, "Привет", event_id="ev\u0000x")) == 400


def test_lone_surrogate_in_text_is_not_a_server_error(app) -> None:  # noqa: ANN001
    raw = json.dumps(message_new(903, "a\ud83db")).encode()  # ASCII JSON with "\ud83d"
    assert _status(app, raw) == 400


def test_lone_surrogate_in_secret_is_refused_not_a_server_error(app) -> None:  # noqa: ANN001
    raw = json.dumps(message_new(904, "Привет", secret="a\udfffb")).encode()
    assert _status(app, raw) == 400  # bad input, before the secret is even compared


def test_long_event_type_is_not_a_server_error(app) -> None:  # noqa: ANN001
    body = message_new(905, "Привет")
    body["type"] = "x" * 60
    assert _status(app, body) == 400  # "type: too long"


def test_refused_bodies_store_nothing(app) -> None:  # noqa: ANN001
    """Wrong secret, wrong group, duplicated "secret" key: 403, and no row anywhere."""
    bad_secret = message_new(906, "REFUSED привет", secret="wrong")
    bad_group = message_new(907, "REFUSED привет", group_id=2)
    dup = json.dumps(message_new(908, "REFUSED привет"))[:-1] + ', "secret": "wrong"}'
    for body in (bad_secret, bad_group, dup):
        assert _status(app, body) == 403
    with services(app).db.session() as s:
        assert s.scalar(select(func.count()).select_from(Client)) == 0
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 0


# ---------------------------------------------------------------------------- knowledge base

def _kb_with(tmp_path: Path, raw: bytes) -> Path:
    path = tmp_path / "knowledge_base.json"
    path.write_bytes(raw)
    return path


def test_deeply_nested_kb_is_a_kb_error(tmp_path: Path) -> None:
    good = (ROOT / "knowledge_base.json").read_bytes().rstrip()
    depth = 100_000
    path = _kb_with(tmp_path, good[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}")
    with pytest.raises(KnowledgeBaseError) as exc:
        load_kb(path)
    assert all(": " in line for line in exc.value.errors)


def test_huge_integer_in_kb_is_a_kb_error(tmp_path: Path) -> None:
    good = (ROOT / "knowledge_base.json").read_bytes()
    raw = good.replace(b'"percent": 10', b'"percent": 1' + b"0" * 5000, 1)
    assert raw != good
    with pytest.raises(KnowledgeBaseError):
        load_kb(_kb_with(tmp_path, raw))


# ---------------------------------------------------------------------------- crash safety

def test_delivered_turn_is_not_given_up_after_repeated_crashes(app, vk, clock) -> None:  # noqa: ANN001
    svc = services(app)
    post(app.test_client(), message_new(910, "Здравствуйте, есть курс для детей?"))
    clock.advance(9)
    assert drain(app) == 1
    assert len(vk.emulator.sent(910)) == 1
    with svc.db.session() as s:  # the process died right after the send, several times over
        turn = s.execute(select(Turn)).scalar_one()
        turn.status = "running"
        turn.attempts = svc.settings.max_turn_attempts
        d = s.get(Dialog, turn.dialog_id)
        d.claimed_turn_id, d.reply_due_at, d.answered_upto_id = turn.id, clock.now(), 0
        d.claimed_until = clock.now()
    clock.advance(1)
    drain(app)
    assert len(vk.emulator.sent(910)) == 1
    with svc.db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        dialog = s.get(Dialog, turn.dialog_id)
        assert turn.status == "done"
        assert dialog.needs_human is False


def test_slow_turn_keeps_its_claim_and_is_not_taken_twice(make_app, vk, clock) -> None:  # noqa: ANN001
    """A model call longer than CLAIM_TIMEOUT_S: the heartbeat keeps the claim fresh."""
    import threading
    import time as _time

    release, started = threading.Event(), threading.Event()

    def slow(ctx) -> None:  # noqa: ANN001
        started.set()
        release.wait(10)

    app = make_app(claim_timeout_s=1.5, primary_brain=HookedBrain(before_analyze=slow))
    svc = services(app)
    post(app.test_client(), message_new(911, "Здравствуйте"))
    clock.advance(9)
    first = threading.Thread(target=drain, args=(app,))
    first.start()
    assert started.wait(10)
    clock.advance(5)  # the original claim has expired on the clock...
    _time.sleep(1.2)  # ...but the heartbeat has renewed it since
    assert drain(app) == 0
    release.set()
    first.join(20)
    assert len(vk.emulator.sent(911)) == 1
    with svc.db.session() as s:
        assert s.execute(select(Turn)).scalar_one().attempts == 1


def test_retaken_turn_delivers_what_it_stored_without_asking_the_model_again(make_app, vk, clock) -> None:  # noqa: ANN001
    calls = []
    app = make_app(primary_brain=HookedBrain(before_analyze=lambda ctx: calls.append(ctx.turn_id)))
    svc = services(app)
    # VK fails the send (internal error 10, transient): the turn is postponed with its reply
    # stored (how many requests carry names and typing first depends on the batching)
    vk.emulator.fail_next("messages.send", 10)
    post(app.test_client(), message_new(912, "Здравствуйте! Сколько стоит курс с нуля?"))
    clock.advance(9)
    drain(app)
    assert vk.emulator.sent(912) == [] and len(calls) == 1
    with svc.db.session() as s:
        stored = s.execute(select(Message.text).where(Message.direction == "out")).scalars().all()
    clock.advance(120)
    drain(app)
    sent = vk.emulator.sent(912)
    assert len(calls) == 1  # no second model run, no second set of side effects
    assert [m.text for m in sent] == stored


def test_staff_taking_over_while_the_model_thinks_silences_the_reply(make_app, vk, clock) -> None:  # noqa: ANN001
    def staff_writes_meanwhile(ctx) -> None:  # noqa: ANN001
        post(c, {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "st-913",
                 "object": {"id": 8913, "peer_id": 913, "from_id": -1, "text": "Это Ольга",
                            "admin_author_id": 3, "date": 1}})

    app = make_app(primary_brain=HookedBrain(after_reply=staff_writes_meanwhile))
    svc = services(app)
    c = app.test_client()
    post(c, message_new(913, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    assert vk.emulator.sent(913) == []
    with svc.db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        assert turn.status == "silent" and "silent:human_handoff" in turn.flags
