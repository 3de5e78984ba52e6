"""Staff panel /admin: access control, CSRF, pages, actions; then one real-browser scenario."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from app.admin.web.actions import staff_random_id
from app.composition.factory import parts as services
from app.models import AppState, Client, ClientChange, Dialog, Message, Reminder, Turn
from tests import browser
from tests.browser import driver  # noqa: F401 - the module-scoped browser fixture
from tests.helpers import csrf_token, drain, logged_in, message_new, panel_login, post

PEER = 5001
PAGES = ("/admin/", "/admin/dialogs/1", "/admin/clients/5001", "/admin/kb", "/admin/dashboard")
CARD = {"first_name": "Анна", "last_name": "Петрова", "email": "Anna@Example.com",
        "phone": "8 (999) 123-45-67", "timezone": "Asia/Omsk", "level": "начинающий", "goal": "",
        "instrument": "цифровое пианино", "age_group": "", "funnel_stage": "hot",
        "tags": "vip, взрослый, vip", "notes": "звонить после 18", "bot_paused": "1"}


token = csrf_token
login = panel_login


def act(c: Any, url: str, **data: str) -> Any:
    """A panel form POST with the session's CSRF token."""
    return c.post(url, data={"csrf_token": token(c), **data})


def db(app: Any) -> Any:
    return services(app).db.session()


def html(r: Any) -> str:
    return r.get_data(as_text=True)  # type: ignore[no-any-return]


def say(app: Any, clock: Any, text: str, peer: int = PEER) -> int:
    """A client message through the real callback; the due turn runs. Returns the dialog id."""
    post(app.test_client(), message_new(peer, text))
    clock.advance(10)
    drain(app)
    with db(app) as s:
        return s.execute(select(Dialog.id).where(Dialog.peer_id == peer)).scalar_one()


def card(app: Any) -> Client:
    with db(app) as s:
        return s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()


def test_pages_need_a_session_and_the_panel_a_password(make_app) -> None:  # noqa: ANN001
    c = make_app().test_client()
    for r in [c.get(url) for url in PAGES] + [c.post("/admin/dialogs/1/pause")]:
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], r.request.path
    off = make_app(admin_password=None).test_client()
    for r in (off.get("/admin/login"), off.get("/admin/")):
        assert r.status_code == 503 and "панель отключена: задайте ADMIN_PASSWORD" in html(r)


def test_wrong_password_refused_and_login_rate_limited(app) -> None:  # noqa: ANN001
    c = app.test_client()
    for _ in range(5):
        r = login(c, "wrong")
        assert r.status_code == 401 and "Неверный пароль" in html(r)
    assert c.get("/admin/").status_code == 302
    assert login(c).status_code == 429  # even the right password waits now
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert login(other).status_code == 302  # per IP


def test_login_redirects_back_only_inside_the_panel_and_logout(app) -> None:  # noqa: ANN001
    c = logged_in(app)
    assert act(c, "/admin/logout").status_code == 302 and c.get("/admin/").status_code == 302
    for target, expected in (("/admin/kb", "/admin/kb"), ("https://evil.example/", "/admin/")):
        c.get("/admin/login")
        r = c.post(f"/admin/login?next={target}", data={"password": "admin-pass",
                                                        "csrf_token": token(c)})
        assert r.headers["Location"].endswith(expected)


def test_post_without_or_with_wrong_csrf_token_is_refused(app, clock) -> None:  # noqa: ANN001
    dialog_id = say(app, clock, "Здравствуйте!")
    c = logged_in(app)
    for data in ({}, {"csrf_token": "forged"}):
        r = c.post(f"/admin/dialogs/{dialog_id}/pause", data=data)
        assert r.status_code == 400 and "CSRF" in html(r)
    with db(app) as s:
        assert s.get(Dialog, dialog_id).human_until is None


def test_dialog_list_and_page_show_the_turn_analysis(app, clock) -> None:  # noqa: ANN001
    dialog_id = say(app, clock, "Здравствуйте! Хочу научиться играть на фортепиано с нуля")
    c = logged_in(app)
    page = html(c.get("/admin/"))
    assert f"id{PEER}" in page and 'class="pill bot"' in page
    page = html(c.get(f"/admin/dialogs/{dialog_id}"))
    with db(app) as s:
        turn = s.execute(select(Turn).where(Turn.dialog_id == dialog_id)).scalar_one()
    assert f"Анализ хода #{turn.id}" in page and turn.analysis["intent"] in page
    assert turn.brain in page and "План ответа" in page
    assert c.get("/admin/dialogs/999999").status_code == 404


def test_list_filters_pages_and_global_switch(app, clock) -> None:  # noqa: ANN001
    with db(app) as s:
        for i in range(55):
            client = Client(vk_id=9000 + i, first_name=f"Клиент{i}",
                            funnel_stage="hot" if i < 3 else "cold")
            s.add(client)
            s.flush()
            s.add(Dialog(client_id=client.id, peer_id=client.vk_id, needs_human=i == 7,
                         last_inbound_at=clock.now() - timedelta(minutes=i)))
    c = logged_in(app)
    first = html(c.get("/admin/"))
    assert first.count('class="pill stage"') == 50 and "Клиент0<" in first
    assert "Клиент54<" in html(c.get("/admin/?page=2"))
    assert html(c.get("/admin/?stage=hot")).count('class="pill stage"') == 3
    need = html(c.get("/admin/?needs_human=1"))
    assert "Клиент7<" in need and "Клиент8<" not in need and "нужен человек" in need
    with db(app) as s:
        s.add(AppState(key="bot_paused", value="1"))  # `flask bot pause`
    paused = html(c.get("/admin/?stage=hot"))
    assert "Бот выключен для всех" in paused and paused.count('class="pill paused"') == 4


def test_card_edit_persists_with_staff_audit(app, clock) -> None:  # noqa: ANN001
    say(app, clock, "Здравствуйте!")
    c = logged_in(app)
    assert act(c, f"/admin/clients/{PEER}", **CARD).status_code == 302
    saved = card(app)
    assert (saved.email, saved.phone, saved.timezone) == ("anna@example.com", "+79991234567",
                                                          "Asia/Omsk")
    assert saved.tags == ["vip", "взрослый"] and saved.bot_paused and saved.funnel_stage == "hot"
    with db(app) as s:
        fields = set(s.execute(select(ClientChange.field)
                               .where(ClientChange.source == "staff")).scalars())
    assert {"email", "phone", "funnel_stage", "bot_paused", "tags"} <= fields
    bad = dict(CARD, email="not-an-email", phone="12", timezone="Mars/Base", first_name="Ольга")
    page = html(r := act(c, f"/admin/clients/{PEER}", **bad))
    assert r.status_code == 400 and "Неверный e-mail" in page and "Неверный телефон" in page
    assert "Неизвестный часовой пояс" in page and 'value="Ольга"' in page
    assert card(app).first_name == "Анна"
    r = act(c, f"/admin/clients/{PEER}", **dict(CARD, notes="a\x00b"))
    assert r.status_code == 400 and "нулевой символ" in html(r)


def test_paused_dialog_gets_no_reply_but_the_turn_is_stored(app, clock, vk) -> None:  # noqa: ANN001
    dialog_id = say(app, clock, "Здравствуйте!")
    assert (replies := len(vk.emulator.sent(PEER))) >= 1
    c = logged_in(app)
    assert act(c, f"/admin/dialogs/{dialog_id}/pause").status_code == 302
    assert "человек" in html(c.get(f"/admin/dialogs/{dialog_id}"))
    say(app, clock, "А сколько стоит курс?")
    assert len(vk.emulator.sent(PEER)) == replies
    with db(app) as s:
        last = s.execute(select(Turn).where(Turn.dialog_id == dialog_id)
                         .order_by(Turn.id.desc())).scalars().first()
        assert "silent:human_handoff" in last.flags and last.analysis
    assert "бот промолчал" in html(c.get(f"/admin/dialogs/{dialog_id}"))
    act(c, f"/admin/dialogs/{dialog_id}/resume")
    say(app, clock, "Алло?")
    assert len(vk.emulator.sent(PEER)) > replies


def test_staff_message_via_vk_pauses_bot_keeps_text(app, clock, vk) -> None:  # noqa: ANN001
    dialog_id = say(app, clock, "Позовите человека")
    c = logged_in(app)
    text = "Здравствуйте, это Мария из школы"
    assert act(c, f"/admin/dialogs/{dialog_id}/send", text=text, send_key="k1").status_code == 302
    sent = vk.emulator.sent(PEER)[-1]
    assert (sent.text, sent.random_id) == (text, staff_random_id("k1", text))
    with db(app) as s:
        row = s.execute(select(Message).where(Message.source == "staff")).scalar_one()
        assert row.vk_message_id == sent.id and row.direction == "out"
        assert s.get(Dialog, dialog_id).human_until > clock.now()
        s.get(Dialog, dialog_id).needs_human = True
    act(c, f"/admin/dialogs/{dialog_id}/resolve")
    with db(app) as s:
        assert not s.get(Dialog, dialog_id).needs_human  # "нужен человек" resolved
    vk.emulator.fail_next("messages.send", 901)  # VK refuses: the text stays in the form
    page = html(r := act(c, f"/admin/dialogs/{dialog_id}/send", text="Проверка", send_key="k2"))
    assert r.status_code == 502 and "ВКонтакте не принял" in page
    assert "Проверка</textarea>" in page and 'value="k2"' in page  # a retry keeps random_id
    with db(app) as s:
        assert s.execute(select(func.count()).where(Message.source == "staff")).scalar_one() == 1


def test_reminder_cancel_and_reschedule_in_client_zone(app, clock) -> None:  # noqa: ANN001
    say(app, clock, "Здравствуйте!")
    with db(app) as s:
        client = s.execute(select(Client).where(Client.vk_id == PEER)).scalar_one()
        client.timezone = "Asia/Yekaterinburg"
        rows = [Reminder(client_id=client.id, due_at=clock.now() + timedelta(days=n),
                         agreed_at=clock.now(), source_text="завтра") for n in (1, 2)]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
    c = logged_in(app)
    base = f"/admin/clients/{PEER}/reminders"
    assert "завтра" in html(c.get(f"/admin/clients/{PEER}"))
    act(c, f"{base}/{ids[0]}/cancel")
    act(c, f"{base}/{ids[1]}/reschedule", due_local="2026-11-28T10:00")
    r = act(c, f"{base}/{ids[1]}/reschedule", due_local="2020-01-01T10:00")
    assert "уже прошло" in html(c.get(r.headers["Location"]))
    with db(app) as s:
        assert s.get(Reminder, ids[0]).status == "cancelled"
        moved = s.get(Reminder, ids[1])
        assert (moved.due_at, moved.status) == (datetime(2026, 11, 28, 5, tzinfo=timezone.utc),
                                                "pending")


def test_kb_page_validates_the_file_and_reloads(make_app, tmp_path) -> None:  # noqa: ANN001
    from tests.pg import ROOT

    (path := tmp_path / "kb.json").write_bytes((ROOT / "knowledge_base.json").read_bytes())
    app = make_app(knowledge_base_path=str(path))
    c = logged_in(app)
    version = services(app).kb_store.current.version
    assert version in (page := html(c.get("/admin/kb"))) and "Ошибок нет" in page
    path.write_text('{"version": 2, "products": [{"id": 1}]}', encoding="utf-8")
    assert "Ошибок:" in (page := html(c.get("/admin/kb"))) and "products" in page
    assert "оставлена версия " + version in html(c.get(act(c, "/admin/kb/reload").location))
    assert services(app).kb_store.current.version == version


def test_turn_view_shows_guardrail_reasons_fragments_and_cached_tokens(app, clock) -> None:  # noqa: ANN001
    dialog_id = say(app, clock, "Сколько стоит курс?")
    with db(app) as s:
        turn = s.execute(select(Turn).where(Turn.dialog_id == dialog_id)).scalar_one()
        turn.flags = ["guardrail:price", "reply_fallback"]
        turn.usage = {"reply": {"model": "m", "prompt_tokens": 9000, "cached_tokens": 8000,
                                "output_tokens": 40, "latency_ms": 5, "thinking_tokens": 312,
                                "model_version": "m-002"},
                      "flag_details": [{"flag": "guardrail:price", "stage": "reply",
                                        "reason": "сумма не совпадает с ценой продукта x",
                                        "fragment": "17 900 ₽"}]}
    page = html(logged_in(app).get(f"/admin/dialogs/{dialog_id}"))
    assert "сумма не совпадает с ценой продукта x" in page and "«17 900 ₽»" in page
    assert "9000 (из кэша 8000)" in page
    assert "(ответила m-002)" in page and "40 ток. + размышления 312" in page


def test_dashboard_counts(app, clock) -> None:  # noqa: ANN001
    say(app, clock, "Здравствуйте!")
    say(app, clock, "Привет", peer=PEER + 1)
    with db(app) as s:
        s.execute(select(Turn)).scalars().first().flags = ["analysis_fallback", "guardrail:price"]
    page = html(logged_in(app).get("/admin/dashboard"))
    assert "analysis_fallback" in page and "guardrail:price" in page
    assert '<td class="n">2</td>' in page  # two dialogs with client messages today


# --- the same panel in a real headless Chromium (`driver`: module-scoped, tests/browser.py) ---

def seed(app: Any, clock: Any, vk: Any) -> None:
    """A few realistic dialogs for the pages and the screenshots."""
    for peer, first, last in ((PEER, "Анна", "Соколова"), (PEER + 1, "Олег", "Ветров"),
                              (PEER + 2, "Мария", "Лебедева")):
        vk.emulator.set_user(peer, first, last)  # what users.get answers
    say(app, clock, "Позовите, пожалуйста, менеджера, хочу вернуть деньги", peer=PEER + 2)
    say(app, clock, "Добрый вечер! Сколько стоит курс для начинающих?", peer=PEER + 1)
    say(app, clock, "Здравствуйте! Меня зовут Анна, хочу научиться играть на пианино с нуля")
    say(app, clock, "Интересно. Напишите мне завтра в 19:00, пожалуйста")


@pytest.mark.browser
def test_panel_in_a_real_browser(make_app, clock, vk, driver) -> None:  # noqa: ANN001,F811
    app = make_app()
    seed(app, clock, vk)
    with browser.LiveServer(app) as server:
        assert "Неверный пароль" in browser.panel_login(driver, server.url, "nope")
        assert browser.panel_login(driver, server.url, "admin-pass") == ""
        assert "id5001" in browser.text_of(driver, "#dialogs")
        browser.screenshot(driver, "dialogs")
        driver.find_element(browser.By.LINK_TEXT, "Анна Соколова").click()
        analysis = browser.text_of(driver, ".analysis")
        assert "Анализ хода" in analysis and "План ответа" in analysis
        browser.screenshot(driver, "dialog")
        replies = len(vk.emulator.sent(PEER))
        browser.submit(driver, "#pause-btn")
        assert "человек" in browser.text_of(driver, "#dialog-status")
        say(app, clock, "А есть рассрочка?")
        assert len(vk.emulator.sent(PEER)) == replies
        driver.refresh()
        assert "silent:human_handoff" in browser.text_of(driver, "#timeline")
        flash = browser.edit_card(driver, f"{server.url}/admin/clients/{PEER}",
                                  {"email": "anna@example.com", "phone": "+7 912 345-67-89"}, "hot")
        assert "Сохранено" in flash
        browser.screenshot(driver, "client")
        saved = card(app)
        assert (saved.email, saved.phone, saved.funnel_stage) == ("anna@example.com",
                                                                  "+79123456789", "hot")
        browser.fill(driver, "#f-notes", "не должно сохраниться")
        assert "CSRF" in browser.tamper_csrf_and_submit(driver, "#card-form", "#card-save")
        assert card(app).notes == ""
        driver.get(server.url + "/admin/kb")
        assert services(app).kb_store.current.version in browser.text_of(driver, "#kb-version")
        browser.screenshot(driver, "kb")
        driver.get(server.url + "/admin/dashboard")
        assert browser.text_of(driver, "#per-day")
        browser.screenshot(driver, "dashboard")
