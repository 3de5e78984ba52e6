"""CLI commands of the staff: bot pause/resume, kb reload, reminders list, clients show."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta

from app.composition.factory import parts as services
from tests.conftest import ROOT
from tests.helpers import drain, message_new, post


def test_bot_pause_stops_replies_and_resume_restarts(app, vk, clock) -> None:  # noqa: ANN001
    runner = app.test_cli_runner()
    assert "paused" in runner.invoke(args=["bot", "pause"]).output
    post(app.test_client(), message_new(500, "Здравствуйте"))
    clock.advance(9)
    drain(app)
    assert vk.emulator.sent(500) == []
    assert "resumed" in runner.invoke(args=["bot", "resume"]).output
    post(app.test_client(), message_new(500, "Есть кто-нибудь?"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(500)) == 1


def test_handoff_pause_expires(app, vk, clock) -> None:  # noqa: ANN001
    c = app.test_client()
    post(c, {"type": "message_reply", "group_id": 1, "secret": "s3cret", "event_id": "st-501",
             "object": {"id": 8001, "peer_id": 501, "from_id": -1, "text": "Это Ольга из школы",
                        "admin_author_id": 3, "date": 1}})
    post(c, message_new(501, "Спасибо, Ольга!"))
    clock.advance(9)
    drain(app)
    assert vk.emulator.sent(501) == []
    clock.advance(13 * 3600)
    post(c, message_new(501, "А подскажите про рассрочку?"))
    clock.advance(9)
    drain(app)
    assert len(vk.emulator.sent(501)) == 1


def test_kb_reload_keeps_old_version_on_error_and_swaps_on_success(make_app, tmp_path) -> None:  # noqa: ANN001
    kb_path = tmp_path / "kb.json"
    shutil.copy(ROOT / "knowledge_base.json", kb_path)
    app = make_app(knowledge_base_path=str(kb_path))
    runner, store = app.test_cli_runner(), services(app).kb_store
    old = store.current.version
    kb_path.write_text('{"version": 1, "products": [}', encoding="utf-8")
    result = runner.invoke(args=["kb", "reload"])
    assert result.exit_code == 1 and "invalid JSON" in result.output
    assert store.current.version == old
    data = json.loads((ROOT / "knowledge_base.json").read_text(encoding="utf-8"))
    data["products"][0]["price_rub"] += 1000
    kb_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["kb", "reload"])
    assert result.exit_code == 0 and store.current.version != old
    health = app.test_client().get("/healthz").get_json()
    assert health["knowledge_base"]["version"] == store.current.version


def test_reminders_list_and_clients_show(app, vk, clock) -> None:  # noqa: ANN001
    post(app.test_client(), message_new(502, "Напишите мне завтра в 18:30, пожалуйста"))
    clock.advance(9)
    drain(app)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["reminders", "list"]).output
    assert "2026-11-26T18:30:00+03:00" in out and "pending" in out and "vk 502" in out
    text_card = runner.invoke(args=["clients", "show", "502"]).output
    assert "Reminders:" in text_card and "Last turns:" in text_card and "funnel_stage" in text_card
    card = json.loads(runner.invoke(args=["clients", "show", "502", "--json"]).output)
    assert card["reminders"][0]["due_at"] == "2026-11-26T18:30:00+03:00"
    assert card["turns"][0]["analysis"]["follow_up"]["agreed"] is True
    missing = runner.invoke(args=["clients", "show", "999999"])
    assert missing.exit_code == 1
    clock.advance(timedelta(days=2).total_seconds())
    assert "no pending reminders" not in runner.invoke(args=["reminders", "list", "--all"]).output


def test_running_process_picks_up_a_changed_file_and_keeps_the_old_on_error(make_app, tmp_path) -> None:  # noqa: ANN001
    import os
    import time

    from app.composition.background import kb_watcher
    from app.runtime.kb_watcher import request_reload

    kb_path = tmp_path / "kb.json"
    shutil.copy(ROOT / "knowledge_base.json", kb_path)
    app = make_app(knowledge_base_path=str(kb_path))
    svc = services(app)
    watcher = kb_watcher(svc)
    watcher.start()
    watcher.stop()
    old = svc.kb_store.current.version
    assert watcher.tick() is None  # nothing changed
    kb_path.write_text("{ broken", encoding="utf-8")
    os.utime(kb_path, (time.time() + 5, time.time() + 5))
    result = watcher.tick()
    assert result is not None and not result.ok and svc.kb_store.current.version == old
    assert svc.kb_store.last_errors and "invalid JSON" in svc.kb_store.last_errors[0]
    data = json.loads((ROOT / "knowledge_base.json").read_text(encoding="utf-8"))
    data["faq"][0]["answer"] += " Обновлено."
    kb_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.utime(kb_path, (time.time() + 10, time.time() + 10))
    assert watcher.tick().ok and svc.kb_store.current.version != old
    # another process ran `flask kb reload`: the generation counter moves, this one reloads
    other = make_app(knowledge_base_path=str(kb_path))
    assert request_reload(services(other).kb_store, services(other).db).ok
    assert watcher.tick() is not None
