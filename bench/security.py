"""Security run (issue 16): the reproductions of the trust-boundary read-through, against the app
under gunicorn (2 workers) with the fake VK and the offline brain, plus in-process checks of the
resolver (random Russian time phrases) and the e-mail pattern. Every check was a reproduced
hole; each is pinned by a regression test (tests/crm/test_trust_contacts.py, test_runmode.py,
test_panel_sessions.py, test_healthz_public.py, test_resolver_fuzz.py, test_input_limits.py,
test_staff_resend.py, test_reminder_reschedule.py, test_proactive_claims.py,
test_discount_race.py, test_effects_never_fail_turn.py, test_held_back.py). Issue 20's round 3
is in bench/security_round3.py (tests/e2e/test_trust_round3.py, test_properties.py).

    .venv/bin/python bench/security.py [--quick] [--write]
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import security_round3 as r3  # noqa: E402
from bench.fake_model import print_table, update_doc, verdict  # noqa: E402
from bench.harness import BenchPostgres, Gunicorn, app_env, message_event, post_json, wait_idle  # noqa: E402
from tests.fakes.vk_server import FakeVkServer  # noqa: E402

RERUN = ".venv/bin/python bench/security.py --write"
PAY_SECRET = "bench-pay-secret"
Row = tuple[str, Any, str]
TRIED = (ROOT / "bench" / "security_tried.md")  # what was tried, before/after (kept by hand)


def _login(base: str, password: str = "bench") -> tuple[requests.Session, int]:
    s = requests.Session()
    page = s.get(base + "/admin/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    r = s.post(base + "/admin/login", data={"password": password,
                                            "csrf_token": token[1] if token else ""},
               allow_redirects=False, timeout=10)
    return s, r.status_code


def _csrf(s: requests.Session, base: str, path: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + path, timeout=10).text)
    return m[1] if m else ""


def claimed_contacts(base: str, engine: Any, vk: Any) -> list[Row]:
    """1: a stranger types Olga's e-mail, then Olga's shop order arrives by e-mail only."""
    post_json(base + "/vk/callback", message_event(5101, "Здравствуйте! мой email "
                                                   "olga.k@example.com", "sec-1", 91001))
    wait_idle(engine, 60, 0.3)
    order = {"order_id": "SHOP-1", "vk_id": None, "email": "olga.k@example.com",
             "product_id": "piano-from-zero", "amount_rub": 14900,
             "paid_at": "2026-11-25T14:00:00+03:00"}
    status, body = post_json(base + "/hooks/payment", order, {"X-Payment-Secret": PAY_SECRET})
    post_json(base + "/vk/callback", message_event(5101, "Когда заканчивается мой доступ?",
                                                   "sec-2", 91002))
    wait_idle(engine, 60, 0.3)
    with engine.connect() as c:
        attached = c.execute(text("select count(*) from purchases")).scalar_one()
        waiting = c.execute(text("select count(*) from unmatched_orders where status='waiting'"
                                 )).scalar_one()
    reply = (vk.emulator.sent(5101) or [None])[-1]
    said = reply.text if reply else ""
    return [("claimed e-mail + order by e-mail: hook answer", f"{status} {body[:40]}",
             verdict(status == 202)),
            ("  order attached to the stranger / waiting for staff", f"{attached} / {waiting}",
             verdict(attached == 0 and waiting == 1)),
            ("  reply to «когда заканчивается мой доступ?»", said[:60] + "…",
             verdict("менеджер проверит" in said and "доступ до" not in said))]


def panel(base: str, vk: Any, engine: Any) -> list[Row]:
    """9: copied cookie after logout; the login limiter across two workers; 7: staff resend."""
    rows: list[Row] = []
    codes = [_login(base, "wrong")[1] for _ in range(8)]
    rows.append(("8 wrong logins from one address, 2 workers", codes,
                 verdict(codes[:5] == [401] * 5 and set(codes[5:]) == {429})))
    with engine.connect() as c:  # the limiter blocks this address now: clear it for the rest
        c.execute(text("delete from login_failures"))
        c.commit()
    s, code = _login(base)
    stolen = s.cookies.get("session")
    s.post(base + "/admin/logout", data={"csrf_token": _csrf(s, base, "/admin/")}, timeout=10)
    thief = requests.get(base + "/admin/", cookies={"session": stolen}, allow_redirects=False,
                         timeout=10)
    rows.append(("copied session cookie after logout", thief.status_code,
                 verdict(code == 302 and thief.status_code == 302)))
    s, _ = _login(base)
    with engine.connect() as c:
        dialog_id = c.execute(text("select id from dialogs limit 1")).scalar_one()
        peer = c.execute(text("select peer_id from dialogs limit 1")).scalar_one()
    before = len(vk.emulator.sent(peer))
    for msg in ("Курс стоит 14900 ₽", "Поправка: 12900 ₽", "Поправка: 12900 ₽"):
        token = _csrf(s, base, f"/admin/dialogs/{dialog_id}")
        s.post(f"{base}/admin/dialogs/{dialog_id}/send", timeout=10,
               data={"csrf_token": token, "text": msg, "send_key": "same-form"})
    got = [m.text for m in vk.emulator.sent(peer)[before:]]
    rows.append(("staff: text, edited text, real repeat (same form key) → VK got", len(got),
                 verdict(got == ["Курс стоит 14900 ₽", "Поправка: 12900 ₽"])))
    public = requests.get(base + "/healthz", timeout=10).json()
    staff = s.get(base + "/healthz", timeout=10).json()
    rows.append(("/healthz: error texts public / staff", f"{'warnings' in public} / "
                 f"{'warnings' in staff}", verdict("warnings" not in public and
                                                   "warnings" in staff)))
    return rows


def deployments(pg: BenchPostgres, vk: Any) -> list[Row]:
    """2 and 3: SECRET_KEY rules and the local chat on a server."""
    rows: list[Row] = []
    env = app_env(pg.fresh_database(), vk.base_url)
    env.pop("SECRET_KEY")
    log = pg.dir / "nokey.log"
    try:
        Gunicorn(env, workers=1).start(wait_s=40, log_path=str(log)).stop()
        started = True
    except RuntimeError:
        started = False
    said = ("SECRET_KEY is not set" in log.read_text(encoding="utf-8", errors="replace")
            if log.exists() else False)
    rows.append(("deployed panel without SECRET_KEY starts", started, verdict(not started and said)))
    env = app_env(pg.fresh_database(), vk.base_url, LOCAL_MODE="1", RAILWAY_ENVIRONMENT="bench")
    env.pop("VK_GROUP_TOKEN")
    gun = Gunicorn(env, workers=1).start(log_path=str(pg.dir / "notoken.log"))
    try:
        chat = requests.get(gun.url + "/dev/chat", timeout=10).status_code
        health = requests.get(gun.url + "/healthz", timeout=10).json()
    finally:
        gun.stop()
    rows.append(("no VK token, LOCAL_MODE=1, on Railway: /dev/chat", chat, verdict(chat == 404)))
    rows.append(("  /healthz vk.token", health["vk"].get("token"),
                 verdict(health["vk"].get("token") == "missing")))
    return rows


def in_process(n_phrases: int) -> list[Row]:
    """6: the resolver never raises; 10: the e-mail pattern is linear."""
    from app.brain.offline.rules import EMAIL_RE
    from app.reminders import ru_time_words as W
    from app.reminders.resolver import resolve

    rng = random.Random(16)
    vocab = ["через", "в", "на", "после", "завтра", "утром", "вечером", "числа", "лет", "год",
             "полгода", "неделе", "пятницу"] + list(W.UNITS) + list(W.MONTHS)
    now, errors, resolved = datetime(2026, 11, 25, 11, 30, tzinfo=timezone.utc), 0, 0
    for _ in range(n_phrases):
        words = [str(rng.randrange(10 ** rng.randrange(1, 25))) if rng.random() < 0.3
                 else rng.choice(vocab) for _ in range(rng.randrange(1, 7))]
        try:
            resolved += resolve(" ".join(words), now) is not None
        except (ValueError, OverflowError):
            errors += 1
    hostile = ["a" * 20_000, "a." * 10_000, "x@" + "a" * 20_000, "-@" * 10_000]
    worst = 0.0
    for t in hostile:
        t0 = time.perf_counter()
        EMAIL_RE.search(t)
        worst = max(worst, time.perf_counter() - t0)
    return [("resolver: random Russian time phrases (resolved)", f"{n_phrases} ({resolved})", ""),
            ("  exceptions", errors, verdict(errors == 0)),
            ("  «через 10000 лет»", resolve("напишите мне через 10000 лет", now),
             verdict(resolve("напишите мне через 10000 лет", now) is None)),
            ("e-mail pattern, worst of 4 hostile 20 000-char texts, ms", f"{worst * 1000:.1f}",
             verdict(worst < 0.05))]


def run(quick: bool) -> tuple[bool, str]:
    t0 = time.monotonic()
    pg = BenchPostgres()
    vk = FakeVkServer().start()
    gun = None
    rows: list[Row] = []
    tried: list[r3.Tried] = []
    try:
        url = pg.fresh_database()
        runs = pg.dir / "eval-runs"
        r3.prepare_eval_runs(runs)
        env = app_env(url, vk.base_url, PAYMENT_WEBHOOK_SECRET=PAY_SECRET, DEBOUNCE_SECONDS=0.3,
                      EVAL_RUNS_DIR=str(runs))
        gun = Gunicorn(env, workers=2, threads=4).start(log_path=str(pg.dir / "gunicorn.log"))
        engine = create_engine(url)
        rows += claimed_contacts(gun.url, engine, vk)
        rows += panel(gun.url, vk, engine)
        tried += r3.forged_peer(gun.url, engine, vk)
        tried += r3.carried_contacts(gun.url, PAY_SECRET)
        tried += r3.login_race(gun.url, engine)
        tried += r3.eval_symlink(gun.url, runs)
        base = gun.url
        tried += r3.reports_and_card(engine, base, lambda: wait_idle(engine, 60, 0.3))
        engine.dispose()
        gun.stop()
        gun = None
        rows += deployments(pg, vk)
        tried += r3.deployments(pg, vk)
        tried += r3.local_mode()
        tried += r3.media()
        tried += r3.model_output()
        rows += in_process(3000 if quick else 20000)
        rows.append(("wall time, s", f"{time.monotonic() - t0:.0f}", ""))
        detail, by_area = r3.summary(tried)
        ok = all(r[2] in ("", "ok") for r in rows + detail)
        table = print_table("Security: trust-boundary reproductions (issue 16)", rows)
        table += "\n\n" + print_table("Security, round 3: the reproductions of issue 20", detail)
        areas = "\n".join(["**Issue 20: bad inputs tried and held, by area** (a row per "
                           "attempt; indented rows are follow-up checks, not counted)", "",
                           *by_area])
        print(areas)
        return ok, table + "\n\n" + areas
    finally:
        if gun is not None:
            gun.stop()
        vk.stop()
        pg.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    ok, table = run(args.quick)
    if args.write:
        tried = TRIED.read_text(encoding="utf-8") if TRIED.exists() else ""
        update_doc("Security", tried + table + f"\n\nRerun: `{RERUN}`")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
