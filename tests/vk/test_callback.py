"""POST /vk/callback: confirmation, authentication, malformed input, storing, dedupe."""
from __future__ import annotations

from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.models import Client, Dialog, Message, ProcessedEvent
from tests.helpers import message_new, post


def count(app, model) -> int:  # noqa: ANN001
    with services(app).db.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_confirmation_returns_the_plain_code(app) -> None:  # noqa: ANN001
    r = post(app.test_client(), {"type": "confirmation", "group_id": 1, "secret": "s3cret"})
    assert r.status_code == 200 and r.get_data(as_text=True) == "conf-code-123"


def test_confirmation_without_secret_but_right_group_and_refusals(app) -> None:  # noqa: ANN001
    c = app.test_client()
    assert post(c, {"type": "confirmation", "group_id": 1}).get_data(as_text=True) == "conf-code-123"
    assert post(c, {"type": "confirmation", "group_id": 2}).status_code == 403
    assert post(c, {"type": "confirmation", "group_id": 1, "secret": "bad"}).status_code == 403


def test_wrong_secret_or_group_is_refused_and_nothing_stored(app) -> None:  # noqa: ANN001
    c = app.test_client()
    assert post(c, message_new(5, "привет", secret="nope")).status_code == 403
    assert post(c, message_new(5, "привет", group_id=2)).status_code == 403
    body = message_new(5, "привет")
    del body["secret"]
    assert post(c, body).status_code == 403
    assert count(app, Message) == count(app, Client) == count(app, ProcessedEvent) == 0


def test_malformed_bodies_get_4xx_never_5xx(app) -> None:  # noqa: ANN001
    c = app.test_client()
    bad = [b"{not json", b"\xff\xfe\x00garbage", b"[]", b"null", b'"str"', {"group_id": 1},
           {"type": 5, "group_id": 1, "secret": "s3cret"},
           {"type": "message_new", "group_id": 1, "secret": "s3cret"},
           {"type": "message_new", "group_id": 1, "secret": "s3cret", "object": {"message": 7}},
           {"type": "message_new", "group_id": "x", "secret": "s3cret", "object": {}},
           {"type": "message_new", "group_id": 1, "secret": "s3cret",
            "object": {"message": {"peer_id": "abc", "from_id": 1, "text": "x"}}},
           {"type": "message_new", "group_id": 1, "secret": "s3cret",
            "object": {"message": {"peer_id": 1, "from_id": 1, "text": ["x"]}}},
           b"[" * 5000 + b"]" * 5000]
    for body in bad:
        r = post(c, body)
        assert 400 <= r.status_code < 500, (body, r.status_code)
    assert count(app, Message) == 0


def test_unknown_event_type_is_acknowledged(app) -> None:  # noqa: ANN001
    r = post(app.test_client(), {"type": "wall_post_new", "group_id": 1, "secret": "s3cret",
                                 "event_id": "w1", "object": {}})
    assert r.status_code == 200 and r.get_data(as_text=True) == "ok"


def test_message_new_stores_client_message_and_marks_reply_due(app, clock) -> None:  # noqa: ANN001
    r = post(app.test_client(), message_new(42, "Здравствуйте! Хочу научиться играть"))
    assert r.status_code == 200 and r.get_data(as_text=True) == "ok"
    with services(app).db.session() as s:
        client = s.execute(select(Client).where(Client.vk_id == 42)).scalar_one()
        dialog = s.execute(select(Dialog).where(Dialog.client_id == client.id)).scalar_one()
        msg = s.execute(select(Message)).scalar_one()
    assert msg.text == "Здравствуйте! Хочу научиться играть" and msg.direction == "in"
    assert (dialog.reply_due_at - clock.now()).total_seconds() == 8


def test_same_event_retried_five_times_is_stored_once(app) -> None:  # noqa: ANN001
    c = app.test_client()
    body = message_new(43, "сколько стоит курс?", event_id="retry-1")
    for i in range(5):
        r = post(c, body, headers={"X-Retry-Counter": str(i)} if i else {})
        assert r.get_data(as_text=True) == "ok"
    assert count(app, Message) == 1


def test_message_allow_and_deny_update_can_write(app) -> None:  # noqa: ANN001
    c = app.test_client()
    for etype, expected in (("message_deny", False), ("message_allow", True)):
        post(c, {"type": etype, "group_id": 1, "secret": "s3cret", "event_id": etype,
                 "object": {"user_id": 77}})
        with services(app).db.session() as s:
            assert s.execute(select(Client.can_write).where(Client.vk_id == 77)).scalar_one() is expected


def test_healthz_ok_and_503_without_database(app, make_app) -> None:  # noqa: ANN001
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["database"] == "ok"
    assert r.get_json()["knowledge_base"]["version"]
    broken = make_app(database_url="postgresql://nobody@127.0.0.1:1/none")
    r = broken.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["database"] == "unreachable"
