"""`flask --app app report ...`: exact figures on a seeded story, bad input, empty periods."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from app.composition.factory import parts as services
from tests.report_seed import ABROAD, SOLFEGE, seed_story

PRICES = dict(gemini_price_input_per_m=1.0, gemini_price_output_per_m=10.0,
              gemini_price_cached_per_m=0.1)


@pytest.fixture()
def seeded(make_app, clock) -> Any:  # noqa: ANN001
    app = make_app(**PRICES)
    svc = services(app)
    with svc.db.session() as s:
        story = seed_story(s, clock.now())
        ids = {k: d.id for k, d in story.dialogs.items()}
    app.config["dialog_ids"] = ids
    return app


def summary(app: Any, *args: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(args=["report", "summary", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_funnel_and_revenue_with_attribution(seeded) -> None:  # noqa: ANN001
    r = summary(seeded)
    assert r["funnel"]["clients_in_dialogs"] == 6
    assert r["funnel"]["by_stage"] == {"cold": 3, "warm": 0, "hot": 1, "client": 2,
                                       "returning": 0}
    assert r["funnel"]["became_clients"] == 1
    assert r["funnel"]["transitions"] == [{"from": "cold", "to": "client", "count": 1},
                                          {"from": "cold", "to": "hot", "count": 1}]
    assert r["revenue"] == {"total_rub": 27410, "after_dialog_rub": 15410, "orders": 4,
                            "orders_after_dialog": 2, "attribution_days": 30}


def test_offers_granted_refused_redeemed_and_forgone(seeded) -> None:  # noqa: ANN001
    o = summary(seeded)["offers"]
    assert (o["granted"], o["refused"], o["redeemed"], o["forgone_rub"]) == (3, 1, 2, 1990)
    assert o["by_offer"]["first-purchase"] == {"kind": "discount", "granted": 2, "refused": 0,
                                               "redeemed": 1, "forgone_rub": 1490}
    assert o["by_offer"]["birthday"]["forgone_rub"] == 500  # 2000 paid at -20%: 2500 list
    assert o["by_offer"]["comeback"] == {"kind": None, "granted": 0, "refused": 1,
                                         "redeemed": 0, "forgone_rub": 0}


def test_reminders_outcomes_and_answers_within_48h(seeded) -> None:  # noqa: ANN001
    m = summary(seeded)["reminders"]
    assert (m["planned"], m["sent"], m["skipped"], m["refused"], m["pending"],
            m["cancelled"]) == (5, 2, 1, 1, 1, 0)
    assert m["skipped_reasons"] == {"клиент уже купил": 1}
    assert m["refused_reasons"] == {"VK 901: нет разрешения писать": 1}
    assert (m["answered_48h"], m["clients_answered_48h"]) == (1, 1)


def test_escalations_and_time_to_a_person(seeded) -> None:  # noqa: ANN001
    e = summary(seeded)["escalations"]
    assert e["count"] == 2
    assert e["by_reason"] == {"вопрос без ответа в базе знаний": 1,
                              "просит человека или возврат": 1}
    assert (e["answered_by_person"], e["unanswered"]) == (1, 1)
    assert e["minutes_to_person"] == {"median": 30.0, "avg": 30.0, "max": 30.0}
    assert (e["escalated_turns"], e["dialogs_needing_human_now"]) == (1, 1)


def test_model_tokens_and_cost(seeded) -> None:  # noqa: ANN001
    m = summary(seeded)["model"]
    assert (m["turns"], m["prompt_tokens"], m["cached_tokens"], m["output_tokens"]) == (
        7, 3000, 400, 300)
    # (600 uncached × $1 + 400 cached × $0.1 + 300 out × $10) / 1M; the offline turn is free
    assert m["cost_usd"] == pytest.approx(0.00564)
    assert m["fallback_turns"] == 1
    assert len(m["per_day"]) == 31 and sum(d["turns"] for d in m["per_day"]) == 7
    assert sum(d["cost_usd"] for d in m["per_day"]) == pytest.approx(0.00564)


def test_kb_gaps_group_three_wordings(seeded) -> None:  # noqa: ANN001
    gaps = summary(seeded)["kb_gaps"]
    ids = seeded.config["dialog_ids"]
    assert [g["count"] for g in gaps] == [3, 1]
    top = gaps[0]
    assert top["question"] in SOLFEGE
    assert top["examples"] == [SOLFEGE[2], SOLFEGE[1], SOLFEGE[0]]  # oldest first
    assert top["dialog_ids"] == [ids["G"], ids["F"], ids["E"]]
    assert gaps[1]["question"] == ABROAD and gaps[1]["dialog_ids"] == [ids["E"]]
    assert top["last_at"].startswith("2026-11-23")  # E asked 2 days before "now"


def test_shorter_period_and_attribution_window(seeded, make_app, clock) -> None:  # noqa: ANN001
    r = summary(seeded, "--days", "7")
    assert r["revenue"]["total_rub"] == 2000 and r["revenue"]["after_dialog_rub"] == 2000
    assert r["period"]["days"] == 7
    assert [g["count"] for g in r["kb_gaps"]] == [3, 1]
    # a 1-day attribution window: both "after a dialog" purchases came a day and 10 s later
    narrow = make_app(report_attribution_days=1, **PRICES)
    assert summary(narrow)["revenue"]["after_dialog_rub"] == 0
    assert summary(narrow)["funnel"]["became_clients"] == 0
    assert summary(make_app(report_attribution_days=2))["revenue"]["after_dialog_rub"] == 15410


@pytest.mark.parametrize("days", ["0", "-3"])
def test_days_zero_or_negative_is_a_clear_error(app, days) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["report", "summary", "--days", days])
    assert result.exit_code == 2
    assert "--days must be a whole number of days >= 1" in result.output


def test_empty_period_gives_zeros(app) -> None:  # noqa: ANN001
    r = summary(app, "--days", "1")
    assert r["funnel"] == {"clients_in_dialogs": 0, "became_clients": 0, "transitions": [],
                           "by_stage": {k: 0 for k in ("cold", "warm", "hot", "client",
                                                       "returning")}}
    assert r["revenue"]["total_rub"] == 0 and r["revenue"]["orders"] == 0
    assert (r["offers"]["granted"], r["offers"]["by_offer"]) == (0, {})
    assert r["reminders"]["planned"] == 0 and r["escalations"]["count"] == 0
    assert r["escalations"]["minutes_to_person"]["median"] is None
    assert r["model"]["turns"] == 0 and r["model"]["cost_usd"] == 0
    # the key is documented as a float: an empty period still says 0.0, not the integer 0
    assert isinstance(r["model"]["cost_usd"], float)
    assert all(isinstance(d["cost_usd"], float) for d in r["model"]["per_day"])
    assert r["kb_gaps"] == []
    text = app.test_cli_runner().invoke(args=["report", "summary"]).output
    assert "Funnel" in text and "KB gaps: none" in text


def test_readable_table(seeded) -> None:  # noqa: ANN001
    out = seeded.test_cli_runner().invoke(args=["report", "summary", "--days", "30"]).output
    assert "27 410 ₽ (4 orders)" in out and "15 410 ₽ (2 orders)" in out
    assert "3 × " in out


def test_clients_csv(seeded, clock) -> None:  # noqa: ANN001
    result = seeded.test_cli_runner().invoke(args=["report", "clients", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 7 and [r["vk_id"] for r in rows][:2] == ["1001", "1002"]
    a = rows[0]
    assert (a["name"], a["stage"], a["purchases"], a["revenue_rub"], a["offers"],
            a["reminders"], a["escalations"]) == ("Анна", "client", "1", "13410", "1", "1", "0")
    assert a["first_message_at"].startswith(
        (clock.now() - timedelta(days=10, seconds=10)).isoformat()[:16])
    d = next(r for r in rows if r["vk_id"] == "1004")
    assert (d["purchases"], d["revenue_rub"]) == ("2", "5000")
    b = next(r for r in rows if r["vk_id"] == "1002")
    assert b["escalations"] == "1"


def test_offline_brain_flags_a_question_the_kb_lacks_and_it_becomes_a_gap(app, clock) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from app.models import Turn
    from tests.helpers import drain, message_new, post

    c = app.test_client()
    post(c, message_new(9001, "Можно ли у вас арендовать зал для репетиций рок-группы?"))
    post(c, message_new(9002, "Сколько стоит курс для начинающих?"))
    clock.advance(9)
    assert drain(app) == 2
    with services(app).db.session() as s:
        flags = {t.dialog_id: t.flags for t in s.execute(select(Turn)).scalars()}
    assert sorted("kb_no_match" in f for f in flags.values()) == [False, True]
    gaps = summary(app)["kb_gaps"]
    assert [(g["question"], g["count"]) for g in gaps] == [
        ("Можно ли у вас арендовать зал для репетиций рок-группы?", 1)]
    assert [flags[d] for d in gaps[0]["dialog_ids"]] == [["kb_no_match"]]


def test_escalation_through_the_pipeline_and_a_staff_reply_in_vk(app, clock) -> None:  # noqa: ANN001
    from tests.helpers import drain, message_new, post

    c = app.test_client()
    post(c, message_new(9101, "Позовите, пожалуйста, менеджера, хочу вернуть деньги"))
    clock.advance(9)
    drain(app)
    clock.advance(600)  # a manager answers in VK ten minutes after the alert
    post(c, {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "st-9101",
             "object": {"id": 88001, "peer_id": 9101, "from_id": -1, "admin_author_id": 3,
                        "text": "Здравствуйте, это Ольга из школы", "date": 1}})
    e = summary(app)["escalations"]
    assert (e["count"], e["answered_by_person"], e["unanswered"]) == (1, 1, 0)
    assert e["minutes_to_person"]["median"] == 10.0


def test_a_reply_promising_to_check_with_the_team_marks_a_gap(make_app, clock) -> None:  # noqa: ANN001
    from tests.report_seed import Seeder

    app = make_app()
    with services(app).db.session() as s:
        z = Seeder(s, clock.now())
        for key, vk in (("P", 2001), ("Q", 2002), ("R", 2003)):
            z.client(key, vk, "warm")
        z.turn("P", z.ago(1), "Есть ли у вас уроки вокала?", kb_ids=["faq-x"],
               reply="Отличный вопрос! Я уточню у менеджера и вернусь к вам.")
        z.turn("Q", z.ago(1), "А вокал вы преподаёте?", kb_ids=["faq-x"],
               reply="Спрошу у команды школы и напишу.")
        z.turn("R", z.ago(1), "Есть ли у вас уроки гитары?", kb_ids=["faq-x"],
               reply="Передаю ваш вопрос менеджеру школы, он ответит здесь же.")  # escalation
    gaps = summary(app)["kb_gaps"]
    assert [(g["count"], sorted(g["examples"])) for g in gaps] == [
        (2, ["А вокал вы преподаёте?", "Есть ли у вас уроки вокала?"])]
