"""Webhook group commit (WEBHOOK_GROUP_COMMIT=on): concurrent callbacks share a transaction,
each is stored exactly once, one failing statement loses no other, and no request is answered
before its batch is committed."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from app.models import Message, ProcessedEvent
from app.services import services
from tests.helpers import message_new, post

POISON = "этот текст база не примет"


@pytest.fixture()
def observer(clean_db: str) -> Iterator[Engine]:
    """A connection of its own: sees only what was committed."""
    engine = create_engine(clean_db)
    yield engine
    engine.dispose()


@pytest.fixture()
def poison_trigger(observer: Engine) -> Iterator[None]:
    """The database refuses one message text (a real failure of one statement in a batch)."""
    with observer.begin() as conn:
        conn.execute(text(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.text = '{POISON}' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; "
            "RETURN NEW; END $$"))
        conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON messages "
                          "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))
    try:
        yield
    finally:
        with observer.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_poison ON messages"))
            conn.execute(text("DROP FUNCTION refuse_poison()"))


def stored(engine: Engine, vk_message_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Message).where(
            Message.vk_message_id == vk_message_id)).scalar_one() == 1


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(Message)).scalar_one(),
                conn.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one())


class Requests:
    """Posts bodies from threads; each records its status and whether its message was
    committed (seen by another connection) at the moment its answer arrived."""

    def __init__(self, app: Any, observer: Engine) -> None:
        self.app, self.observer = app, observer
        self.results: dict[int, tuple[int, bool]] = {}
        self.threads: list[threading.Thread] = []

    def start(self, i: int, body: dict[str, Any]) -> None:
        def go() -> None:
            status = post(self.app.test_client(), body).status_code
            mid = body["object"]["message"]["id"]
            self.results[i] = (status, stored(self.observer, mid))

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(30)


def hold_writer(app: Any) -> tuple[threading.Event, threading.Thread]:
    """Occupy the writer with a unit that waits: requests queue up behind it."""
    gate = threading.Event()
    writer = services(app).inbox_writer
    holder = threading.Thread(target=writer.run, args=(lambda conn: gate.wait(20),), daemon=True)
    holder.start()
    wait_until(lambda: writer.pending() == 0 and writer.stats.batches == 1)
    return gate, holder


def wait_until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_concurrent_callbacks_are_stored_once_and_answered_after_commit(make_app, observer):
    app = make_app(webhook_group_commit=True)
    writer = services(app).inbox_writer
    gate, holder = hold_writer(app)
    bodies = [message_new(500 + i % 5, f"сообщение {i}", msg_id=90_000 + i) for i in range(12)]
    bodies += [bodies[0], bodies[3],  # VK retries: the same event again
               message_new(501, "сообщение 1", msg_id=90_001, event_id="other-event")]
    requests = Requests(app, observer)
    for i, body in enumerate(bodies):
        requests.start(i, body)
    wait_until(lambda: writer.pending() == len(bodies))
    time.sleep(0.2)
    assert requests.results == {}  # nobody answered while the batch cannot commit
    assert counts(observer) == (0, 0)
    gate.set()
    requests.join()
    holder.join(5)
    assert sorted(requests.results) == list(range(len(bodies)))
    assert all(status == 200 and committed for status, committed in requests.results.values())
    assert counts(observer) == (12, 13)  # 12 messages; 13 distinct event ids
    assert writer.stats.largest == len(bodies) and writer.stats.fallbacks == 0


def test_one_failing_statement_loses_no_other(make_app, observer, poison_trigger):
    app = make_app(webhook_group_commit=True)
    writer = services(app).inbox_writer
    gate, holder = hold_writer(app)
    bodies = [message_new(600 + i, POISON if i == 4 else f"вопрос {i}", msg_id=91_000 + i)
              for i in range(9)]
    requests = Requests(app, observer)
    for i, body in enumerate(bodies):
        requests.start(i, body)
    wait_until(lambda: writer.pending() == len(bodies))
    gate.set()
    requests.join()
    holder.join(5)
    assert requests.results[4] == (500, False)  # not acknowledged: VK will send it again
    others = [requests.results[i] for i in range(9) if i != 4]
    assert others == [(200, True)] * 8
    assert counts(observer) == (8, 8) and writer.stats.fallbacks == 1
    # the retry of the refused event is not taken for a duplicate once the database accepts it
    with observer.begin() as conn:
        conn.execute(text("ALTER TABLE messages DISABLE TRIGGER refuse_poison"))
    assert post(app.test_client(), bodies[4]).status_code == 200
    assert stored(observer, 91_004)


def test_switched_off_stores_per_request(make_app, observer):
    app = make_app(webhook_group_commit=False)
    assert services(app).inbox_writer is None
    assert post(app.test_client(), message_new(700, "привет", msg_id=92_000)).status_code == 200
    assert stored(observer, 92_000)
