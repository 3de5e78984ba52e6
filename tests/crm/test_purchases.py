"""Purchase import: CSV parsing, validation with line numbers, idempotency, matching, CLI."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.composition.factory import parts as services
from app.crm.purchases.store import import_csv, import_rows
from app.models import Client, ClientChange, Purchase

HEADER = "order_id,vk_id,email,phone,product_id,amount_rub,paid_at\n"


def _import(app: Any, text: str | bytes) -> Any:
    svc = services(app)
    stream = io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text)
    with svc.db.session() as s:
        return import_csv(s, stream, svc.kb_store.current)


def _client(app: Any, vk_id: int) -> Client:
    with services(app).db.session() as s:
        return s.execute(select(Client).where(Client.vk_id == vk_id)).scalar_one()


def _purchases(app: Any) -> list[Purchase]:
    with services(app).db.session() as s:
        return list(s.execute(select(Purchase).order_by(Purchase.order_id)).scalars())


def _add_client(app: Any, vk_id: int, **fields: Any) -> None:
    with services(app).db.session() as s:
        s.add(Client(vk_id=vk_id, **fields))


def test_good_rows_create_clients_purchases_and_stage(app: Any) -> None:
    report = _import(app, HEADER +
                     "A-1,101,Anna@Mail.RU,8 (912) 345-67-89,piano-from-zero,14900,2026-01-10\n"
                     "A-2,102,,,chords-accompaniment,7900,2026-02-01T12:00:00+03:00\n")
    assert (report.created, report.duplicates, report.errors) == (2, 0, [])
    anna = _client(app, 101)
    assert anna.email == "anna@mail.ru" and anna.phone == "+79123456789"
    assert anna.funnel_stage == "client"
    rows = _purchases(app)
    assert [p.order_id for p in rows] == ["A-1", "A-2"]
    # a naive date is midnight in Moscow
    assert rows[0].paid_at == datetime(2026, 1, 9, 21, 0, tzinfo=timezone.utc)
    assert rows[0].source == "import" and rows[0].kind == "product"
    assert rows[1].paid_at == datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)
    with services(app).db.session() as s:
        changes = s.execute(select(ClientChange).where(ClientChange.client_id == anna.id)).scalars()
        by_field = {c.field: c for c in changes}
    assert by_field["email"].source == "import" and by_field["funnel_stage"].new_value == "client"


def test_reimport_is_idempotent(app: Any) -> None:
    text = HEADER + "A-1,101,,,piano-from-zero,14900,2026-01-10\n"
    assert _import(app, text).created == 1
    again = _import(app, text)
    assert (again.created, again.duplicates, again.errors) == (0, 1, [])
    assert len(_purchases(app)) == 1


def test_bad_rows_are_reported_by_line_and_good_rows_kept(app: Any) -> None:
    report = _import(app, HEADER +
                     "B-1,201,,,piano-from-zero,14900,2026-01-10\n"      # line 2 ok
                     "B-2,202,,,no-such-course,100,2026-01-10\n"         # line 3
                     "B-3,203,,,piano-from-zero,-5,2026-01-10\n"         # line 4
                     "B-4,204,,,piano-from-zero,100,10.01.2026\n"        # line 5
                     "B-5,,,,piano-from-zero,100,2026-01-10\n"           # line 6
                     "B-6,,ghost@example.com,,piano-from-zero,100,2026-01-10\n"  # line 7
                     ",207,,,piano-from-zero,100,2026-01-10\n"           # line 8
                     "B-8,208,not-an-email,,piano-from-zero,100,2026-01-10\n"  # line 9
                     "B-9,209,,,chords-accompaniment:extension,100,2026-01-10\n"  # line 10
                     "B-10,210,,,piano-from-zero,abc,2026-01-10\n"       # line 11
                     "B-11,211,,,piano-from-zero,12,2026-01-10\n")       # line 12 ok
    assert report.created == 2 and report.duplicates == 0
    errors = report.errors
    assert len(errors) == 9
    assert errors[0] == "line 3: product_id: unknown product 'no-such-course'"
    assert errors[1].startswith("line 4: amount_rub: must be a non-negative integer")
    assert errors[2].startswith("line 5: paid_at: must be an ISO-8601")
    assert errors[3].startswith("line 6: vk_id: required")
    assert errors[4].startswith("line 7: vk_id: empty and no client has this email or phone")
    assert errors[5] == "line 8: order_id: is required"
    assert errors[6].startswith("line 9: email: not a valid e-mail address")
    assert errors[7] == "line 10: product_id: product 'chords-accompaniment' has no extension"
    assert errors[8].startswith("line 11: amount_rub:")
    assert [p.order_id for p in _purchases(app)] == ["B-1", "B-11"]
    with services(app).db.session() as s:
        assert s.execute(select(Client).where(Client.vk_id == 202)).first() is None


def test_match_by_email_then_phone_and_fill_missing_contacts(app: Any) -> None:
    _add_client(app, 301, email="olga@example.com", email_verified=True)  # entered by staff
    _add_client(app, 302, phone="+79001112233", phone_verified=True)
    report = _import(app, HEADER +
                     "C-1,,OLGA@example.com,+7 900 555-44-33,piano-from-zero,14900,2026-01-10\n"
                     "C-2,,,89001112233,kids-piano,12900,2026-01-10\n"
                     "C-3,,other@example.com,9001112233,piano-mastery,21900,2026-01-11\n")
    assert (report.created, report.errors) == (3, [])
    olga, petr = _client(app, 301), _client(app, 302)
    assert olga.phone == "+79005554433"  # filled from the row
    assert petr.email == "other@example.com"  # email unknown → matched by phone, email filled
    assert petr.funnel_stage == "returning"  # second distinct product
    with services(app).db.session() as s:
        assert s.execute(select(Client)).scalars().all().__len__() == 2


def test_existing_contacts_are_not_overwritten(app: Any) -> None:
    _add_client(app, 401, email="keep@example.com", phone="+79990000000", email_verified=True,
                phone_verified=True)
    report = _import(app, HEADER + "D-1,401,new@example.com,+79991111111,piano-from-zero,1,2026-01-10\n")
    assert report.errors == []
    client = _client(app, 401)
    assert (client.email, client.phone) == ("keep@example.com", "+79990000000")


def test_semicolon_bom_extra_columns_and_extension(app: Any) -> None:
    text = ("\ufefforder_id;vk_id;email;phone;product_id;amount_rub;paid_at;comment\n"
            "E-1;501;;;piano-from-zero;14 900;2026-01-10 10:00;первая\n"
            "E-2;501;;;piano-from-zero:extension;2900;2027-01-01;продление\n")
    report = _import(app, text.encode("utf-8"))
    assert (report.created, report.errors) == (2, [])
    rows = _purchases(app)
    assert rows[0].amount_rub == 14900
    assert rows[1].kind == "extension" and rows[1].product_id == "piano-from-zero:extension"
    assert _client(app, 501).funnel_stage == "client"  # an extension is not another product


def test_stage_returning_and_never_downgraded(app: Any) -> None:
    _import(app, HEADER + "F-1,601,,,piano-from-zero,1,2026-01-10\n")
    assert _client(app, 601).funnel_stage == "client"
    _import(app, HEADER + "F-2,601,,,piano-next-step,1,2026-06-10\n")
    assert _client(app, 601).funnel_stage == "returning"
    _import(app, HEADER + "F-3,601,,,piano-next-step:extension,1,2027-06-10\n")
    assert _client(app, 601).funnel_stage == "returning"


@pytest.mark.parametrize("text, message", [
    ("", "line 1: empty file"),
    ("order_id,vk_id,product_id\nX,1,piano-from-zero\n", "line 1: missing columns: amount_rub, paid_at"),
    ("order_id,product_id,amount_rub,paid_at\n", "line 1: missing columns: vk_id or email or phone"),
])
def test_header_problems(app: Any, text: str, message: str) -> None:
    report = _import(app, text)
    assert report.created == 0 and report.errors[0].startswith(message)


def test_not_utf8_is_reported(app: Any) -> None:
    report = _import(app, (HEADER + "G-1,1,,,piano-from-zero,1,2026-01-10,Привет\n").encode("cp1251"))
    assert report.created == 0 and "UTF-8" in report.errors[0]


def test_import_rows_with_json_values(app: Any) -> None:
    svc = services(app)
    row = {"order_id": 77, "vk_id": 701, "product_id": "kids-piano", "amount_rub": 12900,
           "paid_at": "2026-03-01T10:00:00Z", "email": None}
    with svc.db.session() as s:
        report = import_rows(s, [(1, row), (2, {**row, "amount_rub": True})], svc.kb_store.current,
                             "webhook")
    assert report.created == 1 and report.errors == ["line 2: amount_rub: must be a string or a number"]
    assert _purchases(app)[0].order_id == "77" and _purchases(app)[0].source == "webhook"


def test_cli_import(app: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "H-1,801,,,piano-from-zero,14900,2026-01-10\n", encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purchases", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "created 1, duplicates 0, errors 0" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "H-1,801,,,piano-from-zero,14900,2026-01-10\n"
                   "H-2,802,,,nope,1,2026-01-10\n"
                   "H-3,803,,,kids-piano,1,2026-01-10\n", encoding="utf-8")
    result = runner.invoke(args=["purchases", "import", str(bad)])
    assert result.exit_code == 1
    assert "created 1, duplicates 1, errors 1" in result.output
    assert "line 3: product_id: unknown product 'nope'" in result.output
    assert {p.order_id for p in _purchases(app)} == {"H-1", "H-3"}
