"""Access arithmetic (purchases_math) and `flask clients show --json`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from app.brain.analysis import OfferRequest
from app.crm.purchases.access_math import PaidItem, compute_access, split_extension
from app.knowledge.base import load_kb
from tests.pg import ROOT

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def kb() -> Any:
    return load_kb(ROOT / "knowledge_base.json")


def item(product_id: str, days_after_t0: float) -> PaidItem:
    return PaidItem(product_id, T0 + timedelta(days=days_after_t0))


def until(kb: Any, *items: PaidItem, product: str = "piano-from-zero") -> Any:
    return compute_access(items, kb)[product].until


def test_paid_at_plus_access_days(kb: Any) -> None:
    access = compute_access([item("piano-from-zero", 0)], kb)["piano-from-zero"]
    assert access.until == T0 + timedelta(days=365) and access.first_paid_at == T0
    assert until(kb, item("club-subscription", 0), product="club-subscription") == \
        T0 + timedelta(days=30)


@pytest.mark.parametrize("product", ["chords-accompaniment", "bundle-zero-to-confident"])
def test_lifetime_products(kb: Any, product: str) -> None:
    assert until(kb, item(product, 0), product=product) is None
    # an extension never shortens lifetime access, a repeat purchase neither
    assert until(kb, item(product, 0), item(product, 400), product=product) is None


def test_extension_stacks_from_the_end_of_current_access(kb: Any) -> None:
    end = until(kb, item("piano-from-zero", 0), item("piano-from-zero:extension", 300))
    assert end == T0 + timedelta(days=365 + 180)


def test_two_extensions_stack(kb: Any) -> None:
    end = until(kb, item("piano-from-zero", 0), item("piano-from-zero:extension", 10),
                item("piano-from-zero-extension", 20))
    assert end == T0 + timedelta(days=365 + 180 + 180)


def test_extension_after_lapse_counts_from_payment(kb: Any) -> None:
    end = until(kb, item("piano-from-zero", 0), item("piano-from-zero:extension", 500))
    assert end == T0 + timedelta(days=500 + 180)


def test_extension_of_nothing_or_lifetime_changes_nothing(kb: Any) -> None:
    assert compute_access([item("piano-from-zero:extension", 0)], kb) == {}
    assert until(kb, item("chords-accompaniment", 0), item("chords-accompaniment:extension", 5),
                 product="chords-accompaniment") is None


def test_order_of_items_does_not_matter(kb: Any) -> None:
    items = [item("piano-from-zero:extension", 100), item("piano-from-zero", 0)]
    assert until(kb, *items) == until(kb, *reversed(items)) == T0 + timedelta(days=365 + 180)


def test_two_purchases_of_the_same_course_stack(kb: Any) -> None:
    # bought again while access lasts: no paid day is lost
    access = compute_access([item("piano-from-zero", 0), item("piano-from-zero", 300)],
                            kb)["piano-from-zero"]
    assert access.until == T0 + timedelta(days=730) and access.first_paid_at == T0
    # bought again after access lapsed: a fresh period from the payment
    assert until(kb, item("piano-from-zero", 0), item("piano-from-zero", 400)) == \
        T0 + timedelta(days=400 + 365)
    # a monthly subscription renewed three days early
    assert until(kb, item("club-subscription", 0), item("club-subscription", 27),
                 product="club-subscription") == T0 + timedelta(days=60)


def test_products_are_independent(kb: Any) -> None:
    access = compute_access([item("piano-from-zero", 0), item("kids-piano", 50),
                             item("kids-piano:extension", 60)], kb)
    assert access["piano-from-zero"].until == T0 + timedelta(days=365)
    assert access["kids-piano"].until == T0 + timedelta(days=50 + 365 + 180)


def test_split_extension() -> None:
    assert split_extension("piano-from-zero:extension") == ("piano-from-zero", True)
    assert split_extension("piano-from-zero-extension") == ("piano-from-zero", True)
    assert split_extension("piano-from-zero") == ("piano-from-zero", False)


def test_unknown_kb_is_tolerated() -> None:
    fake = SimpleNamespace(product=lambda pid: SimpleNamespace(access_days=10, extension=None))
    assert compute_access([item("x", 0), item("x:extension", 1)], fake)["x"].until == \
        T0 + timedelta(days=10)


# ---------------------------------------------------------------------------- clients show --json

def test_clients_show_json_has_purchases_access_and_offers(app: Any, tmp_path: Any) -> None:
    from app.composition.factory import parts as services
    from app.crm import sales
    from app.models import Client

    svc = services(app)
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("order_id,vk_id,email,phone,product_id,amount_rub,paid_at\n"
                        "S-1,555,s@example.com,,piano-from-zero,14900,2026-01-10T12:00:00+03:00\n"
                        "S-2,555,,,piano-from-zero:extension,2900,2026-12-01\n"
                        "S-3,555,,,chords-accompaniment,7900,2026-02-01\n", encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["purchases", "import", str(csv_path)]).exit_code == 0
    now = svc.clock.now()
    with svc.db.session() as s:
        client = s.query(Client).filter_by(vk_id=555).one()
        client.timezone = "Asia/Yekaterinburg"
        decision = sales.decide(s, client, OfferRequest(offer_id="next-level",
                                                         product_id="piano-next-step"),
                                svc.kb_store.current, now, None)
    assert decision.granted  # a returning client (two products)
    result = runner.invoke(args=["clients", "show", "555", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["card"]["funnel_stage"] == "returning"
    assert [p["order_id"] for p in report["purchases"]] == ["S-1", "S-3", "S-2"]
    assert report["purchases"][0]["paid_at"] == "2026-01-10T14:00:00+05:00"  # client's zone
    access = {a["product_id"]: a for a in report["access"]}
    assert access["piano-from-zero"]["until"] == "2027-07-09T14:00:00+05:00"  # 365 + 180 days
    assert access["piano-from-zero"]["active"] and not access["piano-from-zero"]["lifetime"]
    chords = access["chords-accompaniment"]
    assert chords["lifetime"] and chords["until"] is None
    [offer] = report["offers"]
    assert offer["code"] == decision.code and offer["percent"] == 15 and offer["active"]
    assert offer["product_id"] == "piano-next-step"


def test_clients_show_unknown_client(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["clients", "show", "999999", "--json"])
    assert result.exit_code == 1


def test_offers_list_cli(app: Any, clock: Any) -> None:
    from app.composition.factory import parts as services
    from app.crm import sales
    from app.models import Client

    svc = services(app)
    with svc.db.session() as s:
        client = Client(vk_id=777, funnel_stage="hot", timezone="Europe/Moscow")
        s.add(client)
        s.flush()
        d = sales.decide(s, client, OfferRequest(offer_id="first-purchase", product_id=None),
                         svc.kb_store.current, clock.now(), None)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["offers", "list"]).output
    line = next(ln for ln in out.splitlines() if d.code in ln)
    assert "\t10%\t777\t" in line and line.endswith("active\tfirst-purchase")
    assert "2026-11-28 14:30 MSK" in line  # three days later, in the client's zone
    clock.advance(days=4)
    assert d.code not in runner.invoke(args=["offers", "list"]).output
    out = runner.invoke(args=["offers", "list", "--all"]).output
    assert d.code in out and "\texpired\t" in out
