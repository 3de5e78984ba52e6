"""The pipeline through the in-process collecting channel: what a client would receive is read
directly, VK failures are injected at the seam, and a retaken turn never sends twice."""
from __future__ import annotations

from sqlalchemy import select

from app.composition.factory import parts as services
from app.models import Dialog, ManagerAlert, Message, Turn, TurnStatus
from app.vk.channel import CollectingChannel, OutboundMessage, UnconfiguredChannel
from app.vk.errors import VkCannotSend, VkError, VkNetworkError
from tests.helpers import drain, message_new, post


def _app(make_app, **settings):  # noqa: ANN001, ANN202
    channel = CollectingChannel(names={300: ("Ирина", "Петрова")})
    return make_app(channel=channel, **settings), channel


def test_a_burst_is_one_message_on_the_channel_with_typing_and_names(make_app, clock) -> None:  # noqa: ANN001
    app, channel = _app(make_app)
    c = app.test_client()
    post(c, message_new(300, "Здравствуйте!"))
    post(c, message_new(300, "Можно ли начать с нуля в 40 лет?"))
    clock.advance(9)
    assert drain(app) == 1
    assert len(channel.sent) == 1 and channel.sent[0].peer_id == 300
    assert channel.typing == [300]
    assert channel.sent[0].intent is None  # a reply uses VK's default intent
    with services(app).db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        row = s.execute(select(Message).where(Message.direction == "out")).scalar_one()
        assert turn.status == TurnStatus.DONE and row.text == channel.sent[0].text
        assert row.vk_message_id is not None
        assert turn.dialog.client.first_name == "Ирина"  # users.get through the channel


def test_a_failed_send_is_retried_later_with_the_same_random_id(make_app, clock) -> None:  # noqa: ANN001
    app, channel = _app(make_app)
    channel.fail_with.append(VkNetworkError("connection reset", method="messages.send"))
    post(app.test_client(), message_new(301, "Сколько стоит курс?"))
    clock.advance(9)
    drain(app)
    assert channel.sent == []
    with services(app).db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        assert turn.status == TurnStatus.RUNNING and "connection reset" in (turn.error or "")
    clock.advance(120)
    drain(app)
    assert len(channel.sent) == 1
    again = channel.send(OutboundMessage(301, "повтор", channel.sent[0].random_id))
    assert len(channel.sent) == 1 and again  # a repeated random_id is dropped, like VK does


def test_a_client_who_blocked_the_community_is_not_written_again(make_app, clock) -> None:  # noqa: ANN001
    app, channel = _app(make_app)
    channel.fail_with.append(VkCannotSend("privacy", code=902, method="messages.send"))
    post(app.test_client(), message_new(302, "Привет"))
    clock.advance(9)
    drain(app)
    with services(app).db.session() as s:
        turn = s.execute(select(Turn)).scalar_one()
        dialog = s.execute(select(Dialog)).scalar_one()
        assert turn.status == TurnStatus.UNDELIVERABLE and dialog.client.can_write is False
    assert channel.sent == []


def test_manager_alerts_go_through_the_channel(make_app, clock) -> None:  # noqa: ANN001
    app, channel = _app(make_app, manager_peer_ids="777,778")
    post(app.test_client(), message_new(303, "Позовите живого человека, пожалуйста"))
    clock.advance(9)
    drain(app)
    to_managers = [m for m in channel.sent if m.peer_id in (777, 778)]
    assert {m.peer_id for m in to_managers} == {777, 778}
    assert all("Нужен человек" in m.text for m in to_managers)
    with services(app).db.session() as s:
        assert s.execute(select(ManagerAlert)).scalar_one().sent is True


def test_without_a_token_nothing_is_sent_and_the_reason_is_clear() -> None:
    channel = UnconfiguredChannel()
    try:
        channel.send(OutboundMessage(1, "x", 1))
    except VkError as exc:
        assert "VK_GROUP_TOKEN" in str(exc)
    else:
        raise AssertionError("an unconfigured channel must refuse")
    assert channel.health()["configured"] is False
