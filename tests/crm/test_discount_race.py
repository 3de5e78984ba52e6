"""Issue 16.5: "one active discount per client" holds in the database: two overlapping turns
asking for two different discounts grant one, not two."""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from app.brain.analysis import OfferRequest
from app.composition.factory import parts as services
from app.crm import sales
from app.models import Client, IssuedOffer, Purchase
from tests.conftest import START


def test_overlapping_turns_grant_one_discount(app: Any) -> None:
    svc = services(app)
    kb = svc.kb_store.current
    with svc.db.session() as s:
        c = Client(vk_id=6701, funnel_stage="client")
        s.add(c)
        s.flush()
        s.add(Purchase(order_id="r-1", client_id=c.id, product_id="piano-from-zero", amount_rub=1,
                       paid_at=START, source="staff"))
        cid = c.id
    first_decided, results = threading.Event(), {}

    def turn(name: str, offer: str, hold: bool) -> None:
        with svc.db.session() as s:
            client = s.get(Client, cid)
            request = OfferRequest(offer_id=offer, product_id=None, reason="")
            results[name] = sales.decide(s, client, request, kb, START, None).granted
            if hold:
                first_decided.set()
                threading.Event().wait(0.5)  # still in its transaction when the other decides

    a = threading.Thread(target=turn, args=("a", "next-level", True))
    a.start()
    assert first_decided.wait(10)
    b = threading.Thread(target=turn, args=("b", "comeback", False))
    b.start()
    a.join(10)
    b.join(10)
    assert results == {"a": True, "b": False}
    with svc.db.session() as s:
        kinds = s.execute(select(IssuedOffer.kind).where(IssuedOffer.client_id == cid)).all()
    assert len(kinds) == 1
