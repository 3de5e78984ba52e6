"""Validation of knowledge_base.json: error paths and messages, and the hot-swapping store."""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

import pytest

from app.knowledge.base import KnowledgeBaseError, KnowledgeStore, load_kb

ROOT = Path(__file__).resolve().parents[2]
KB_PATH = ROOT / "knowledge_base.json"

# The example from the spec page: must always stay valid.
SPEC_EXAMPLE = {
    "version": 1,
    "school": {
        "name": "Онлайн-школа фортепиано Сергея Филимонова",
        "timezone": "Europe/Moscow",
        "working_hours": {"start": "09:00", "end": "21:00"},
        "manager_contact": "…",
    },
    "products": [{
        "id": "piano-from-zero", "title": "Фортепиано с нуля", "kind": "course", "level": "beginner",
        "summary": "one or two sentences", "description": "full text", "price_rub": 14900,
        "access_days": 365, "extension": {"price_rub": 2900, "days": 180},
        "includes": ["…"], "suits": ["…"], "url": "https://…",
    }],
    "faq": [{
        "id": "need-real-piano", "question": "Нужно ли настоящее пианино?", "answer": "…",
        "alt_questions": ["Можно ли заниматься на синтезаторе?"], "tags": ["инструмент"],
    }],
    "offers": {
        "max_discount_percent": 20,
        "discounts": [{"id": "first-purchase", "percent": 10, "valid_days": 3, "when": "…"}],
        "bonuses": [{"id": "chords-guide", "title": "…", "when": "…"}],
    },
}


def write(tmp_path: Path, data, name: str = "kb.json") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


def errors_for(tmp_path: Path, data) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as exc:
        load_kb(write(tmp_path, data))
    return exc.value.errors


@pytest.fixture
def real() -> dict:
    return json.loads(KB_PATH.read_text(encoding="utf-8"))


def test_repository_kb_is_valid_and_rich():
    kb = load_kb(KB_PATH)
    assert len(kb.products) >= 8 and len(kb.faq_entries) >= 40
    assert {p.kind for p in kb.products} == {"course", "bundle", "subscription", "consultation"}
    assert {"beginner", "intermediate", "advanced"} <= {p.level for p in kb.products}
    assert kb.school.timezone == "Europe/Moscow"
    assert (kb.working_hours.start, kb.working_hours.end) == ("09:00", "21:00")
    assert kb.max_discount_percent == 20 and len(kb.offers.discounts) >= 3
    assert all(len(f.alt_questions) >= 2 and f.tags for f in kb.faq_entries)
    assert kb.product("piano-from-zero").price_rub in kb.prices()
    assert 2900 in kb.prices()  # extension prices count too
    assert kb.faq("need-real-piano") is kb.entry("need-real-piano")
    assert kb.product("need-real-piano") is None and kb.entry("nope") is None
    file_version, digest = kb.version.split("-", 1)
    assert file_version == "1" and len(digest) == 12


def test_spec_example_is_valid(tmp_path):
    kb = load_kb(write(tmp_path, SPEC_EXAMPLE))
    assert kb.product("piano-from-zero").extension.days == 180
    assert kb.prices() == {14900, 2900}


def test_minimal_optional_fields(tmp_path):
    data = copy.deepcopy(SPEC_EXAMPLE)
    data["products"][0] = {"id": "p1", "title": "Курс", "kind": "bundle", "level": "any",
                           "price_rub": 100, "access_days": None}
    data["faq"][0] = {"id": "q1", "question": "Вопрос?", "answer": "Ответ."}
    kb = load_kb(write(tmp_path, data))
    assert kb.product("p1").lifetime and kb.faq("q1").alt_questions == []


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["products"][0].update(price_rub=0), "products[0].price_rub: must be a positive integer"),
    (lambda d: d["products"][0].update(price_rub="14900"),
     "products[0].price_rub: must be a positive integer"),
    (lambda d: d["products"][0].update(price_rub=149.5), "products[0].price_rub: must be a positive integer"),
    (lambda d: d["products"][0]["extension"].update(days=-1),
     "products[0].extension.days: must be a positive integer"),
    (lambda d: d["products"][0].update(kind="webinar"),
     "products[0].kind: must be one of: course, bundle, subscription, consultation"),
    (lambda d: d["products"][0].update(level="expert"), "products[0].level: must be one of"),
    (lambda d: d["products"][0].pop("title"), "products[0].title: is required"),
    (lambda d: d["products"][0].update(id="Piano_Zero"), "products[0].id: must contain only lowercase latin"),
    (lambda d: d["faq"][0].update(answer="  "), "faq[0].answer: must not be empty"),
    (lambda d: d["faq"][0].update(tags="инструмент"), "faq[0].tags: must be a list"),
    (lambda d: d["faq"][0].update(qestion="typo"), "faq[0].qestion: unknown field"),
    (lambda d: d["school"].update(timezone="Mars/Base"), "school.timezone: unknown time zone"),
    (lambda d: d["school"]["working_hours"].update(start="9am"),
     "school.working_hours.start: must be a time"),
    (lambda d: d.update(extra_top=1), "extra_top: unknown field"),
    (lambda d: d["offers"]["discounts"][0].update(percent=25),
     "offers.discounts[0].percent: 25 exceeds offers.max_discount_percent (20)"),
    (lambda d: d["offers"]["bonuses"].append(dict(d["offers"]["bonuses"][0])),
     'offers.bonuses[1].id: duplicate id "chords-guide"'),
    (lambda d: d["products"][0].update(url="filimonov.ru"), "products[0].url: must start with http"),
])
def test_each_error_names_path_and_reason(tmp_path, mutate, expected):
    data = copy.deepcopy(SPEC_EXAMPLE)
    mutate(data)
    errors = errors_for(tmp_path, data)
    assert any(e.startswith(expected) for e in errors), errors


def test_duplicate_id_across_products_and_faq(tmp_path):
    data = copy.deepcopy(SPEC_EXAMPLE)
    data["faq"][0]["id"] = "piano-from-zero"
    errors = errors_for(tmp_path, data)
    assert errors == ['faq[0].id: duplicate id "piano-from-zero" (already used by products[0])']


def test_all_errors_reported_at_once(tmp_path, real):
    real["products"][3]["price_rub"] = -5
    real["products"][1]["kind"] = "lesson"
    real["faq"][5]["colour"] = "red"
    real["faq"][7]["id"] = real["products"][0]["id"]
    real["offers"]["discounts"][1]["percent"] = 30
    del real["school"]["manager_contact"]
    errors = errors_for(tmp_path, real)
    assert "products[3].price_rub: must be a positive integer" in errors
    assert any(e.startswith("products[1].kind: must be one of") for e in errors)
    assert any(e.startswith("faq[5].colour: unknown field") for e in errors)
    assert any(e.startswith("faq[7].id: duplicate id") for e in errors)
    assert any(e.startswith("offers.discounts[1].percent: 30 exceeds") for e in errors)
    assert "school.manager_contact: is required" in errors
    assert len(errors) == 6


def test_broken_json_reports_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "version": 1,\n  "school": {,\n}')
    with pytest.raises(KnowledgeBaseError) as exc:
        load_kb(path)
    (error,) = exc.value.errors
    assert error.startswith(f"{path}: invalid JSON at line 3 column")


def test_missing_file_and_non_object(tmp_path):
    with pytest.raises(KnowledgeBaseError) as exc:
        load_kb(tmp_path / "absent.json")
    assert exc.value.errors == [f"{tmp_path / 'absent.json'}: file not found"]
    assert errors_for(tmp_path, "[1, 2]") == ["<root>: must be a JSON object"]


# ------------------------------------------------------------------------------------- store

def test_store_keeps_old_version_on_bad_reload_and_swaps_on_good(tmp_path, real):
    path = write(tmp_path, real)
    store = KnowledgeStore(path)
    kb1 = store.load()
    index1 = store.index
    assert store.current is kb1 and store.search("рассрочка")[0].id == "installments"

    path.write_text('{"version": 2, oops', encoding="utf-8")
    result = store.reload()
    assert not result.ok and result.version == kb1.version
    assert "invalid JSON" in result.errors[0] and store.last_errors == result.errors
    assert store.current is kb1 and store.index is index1

    real["version"] = 2
    real["faq"][0]["question"] = "Совсем новый вопрос про укулеле?"
    write(tmp_path, real)
    result = store.reload()
    assert result.ok and result.changed and result.version.startswith("2-") and not result.errors
    snap = store.snapshot()
    assert snap.kb is store.current and snap.kb.version == result.version and store.last_errors == []
    assert snap.index.search("укулеле")[0].id == real["faq"][0]["id"]


def test_store_initial_load_raises_without_previous_version(tmp_path):
    store = KnowledgeStore(write(tmp_path, "{"))
    with pytest.raises(KnowledgeBaseError):
        store.load()
    assert not store.loaded
    with pytest.raises((RuntimeError, KnowledgeBaseError)):
        _ = store.current


def test_reload_if_changed_uses_mtime_and_size(tmp_path, real):
    path = write(tmp_path, real)
    store = KnowledgeStore(path)
    store.load()
    assert store.reload_if_changed() is None
    real["products"][0]["price_rub"] = 0
    write(tmp_path, real)
    os.utime(path, ns=(1, 1))
    bad = store.reload_if_changed()
    assert bad is not None and not bad.ok
    assert bad.errors == ["products[0].price_rub: must be a positive integer"]
    assert store.reload_if_changed() is None  # the same broken file is not retried every tick
    real["products"][0]["price_rub"] = 15900
    write(tmp_path, real)
    os.utime(path, ns=(2, 2))
    good = store.reload_if_changed()
    assert good.ok and store.current.product(real["products"][0]["id"]).price_rub == 15900


def test_concurrent_readers_always_see_a_consistent_snapshot(tmp_path, real):
    path = write(tmp_path, real)
    store = KnowledgeStore(path)
    store.load()
    seen_bad: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            snap = store.snapshot()
            if snap.index.docs[0].id != snap.kb.products[0].id:
                seen_bad.append(snap.kb.version)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(5):
        real["products"][0]["id"] = f"renamed-{i}"
        write(tmp_path, real)
        assert store.reload().ok
    stop.set()
    for t in threads:
        t.join()
    assert not seen_bad and store.current.product("renamed-4") is not None


def test_not_offered_is_optional_and_checked(tmp_path, real):
    assert load_kb(write(tmp_path, real)).not_offered == [
        "Очные занятия", "Диплом государственного образца", "Скачивание видеоуроков"]
    old = copy.deepcopy(real)
    del old["not_offered"]  # a file written before the field stays valid
    assert load_kb(write(tmp_path, old, "old.json")).not_offered == []
    bad = copy.deepcopy(real)
    bad["not_offered"] = ["Очные занятия", "", 5, "x" * 201]
    errors = errors_for(tmp_path, bad)
    assert any(e.startswith("not_offered[1]") for e in errors)
    assert any(e.startswith("not_offered[2]") for e in errors)
    assert any(e.startswith("not_offered[3]") for e in errors)
