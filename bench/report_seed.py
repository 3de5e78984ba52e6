"""Seed a database for the report benchmark: N clients, M messages over the last 90 days,
a turn per client message (usage, analysis, flags), purchases, offers, reminders, alerts and
funnel changes. Pure SQL (generate_series), a few seconds for 100 000 messages.

    .venv/bin/python bench/report_seed.py DATABASE_URL [--clients 10000] [--messages 100000]
"""
from __future__ import annotations

import argparse
import sys
import time

from sqlalchemy import create_engine, text

QUESTIONS = [
    "Сколько стоит курс для начинающих?", "Есть ли рассрочка?", "Можно заниматься на синтезаторе?",
    "Здравствуйте! Хочу научиться играть с нуля", "А у вас есть занятия по сольфеджио?",
    "Преподаёте ли вы сольфеджио?", "Учите сольфеджио отдельно?", "Как оплатить картой из-за границы?",
    "Принимаете иностранные карты?", "Есть ли сертификат после курса?", "Спасибо, подумаю",
    "Напишите мне завтра вечером", "Можно вернуть деньги?", "Позовите менеджера",
    "Есть ли курс джазовой импровизации?", "Учите джазу?", "Можно ли заниматься с ребёнком 5 лет?",
    "А вы даёте уроки вживую в Москве?", "Есть офлайн занятия в Москве?", "Хорошо, спасибо!",
]
STEPS = [
    ("clients", """
INSERT INTO clients (vk_id, first_name, last_name, funnel_stage, tags, created_at, updated_at)
SELECT 100000000 + g, 'Имя' || g, 'Фамилия',
       (ARRAY['cold','cold','warm','hot','client','returning'])[1 + g % 6],
       '[]'::json, now() - interval '120 days', now()
FROM generate_series(1, :clients) g"""),
    ("dialogs", """
INSERT INTO dialogs (client_id, peer_id, created_at, updated_at)
SELECT id, vk_id, created_at, now() FROM clients"""),
    ("messages", """
INSERT INTO messages (dialog_id, direction, source, text, created_at, attachments)
SELECT 1 + (g % :clients), CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END,
       CASE WHEN g % 2 = 0 THEN 'client' WHEN g % 97 = 1 THEN 'staff' ELSE 'bot' END,
       (:questions)[1 + (g / 2 * 7919) % :nq],
       now() - make_interval(secs => ((:messages - g) * 90.0 * 86400 / :messages)), '[]'::json
FROM generate_series(1, :messages) g"""),
    ("turns", """
INSERT INTO turns (dialog_id, kind, status, upto_message_id, attempts, started_at, finished_at,
                   analysis, decisions, reply_text, flags, usage, timings, brain)
SELECT m.dialog_id, 'reply', 'done', m.id, 1, m.created_at + interval '9 s', m.created_at + interval '12 s',
  json_build_object('intent', CASE WHEN m.text LIKE '%?%' THEN 'задаёт вопрос' ELSE 'общается' END,
                    'kb_ids', CASE WHEN m.id % 7 = 0 THEN '[]'::json ELSE '["faq-price"]'::json END),
  json_build_object('escalated', m.id % 53 = 0),
  CASE WHEN m.id % 11 = 0 THEN 'Уточню у коллег и вернусь с ответом.' ELSE 'Ответ по делу.' END,
  CASE WHEN m.id % 10 = 0 THEN '["analysis_fallback","kb_no_match"]'::json ELSE '[]'::json END,
  CASE WHEN m.id % 10 = 0 THEN json_build_object('analysis', json_build_object('model', 'offline'))
       ELSE json_build_object(
         'analysis', json_build_object('model', 'gemini-3.5-flash', 'prompt_tokens', 3000 + m.id % 500,
                                       'cached_tokens', 2000, 'output_tokens', 300),
         'reply', json_build_object('model', 'gemini-3.5-flash', 'prompt_tokens', 2500,
                                    'output_tokens', 120 + m.id % 50)) END,
  '{}'::json, CASE WHEN m.id % 10 = 0 THEN 'offline' ELSE 'gemini-3.5-flash' END
FROM messages m WHERE m.direction = 'in'"""),
    ("purchases", """
INSERT INTO purchases (order_id, client_id, product_id, kind, amount_rub, paid_at, source, created_at)
SELECT 'bench-' || g, 1 + (g * 7) % :clients,
       (ARRAY['piano-from-zero','piano-next-step','kids-piano'])[1 + g % 3],
       'product', 9900 + (g % 5) * 1000, now() - make_interval(days => g % 90), 'import', now()
FROM generate_series(1, :clients / 3) g"""),
    ("offers", """
INSERT INTO issued_offers (client_id, offer_id, kind, code, percent, product_id, redeemed, created_at,
                           expires_at)
SELECT 1 + (g * 7) % :clients, 'first-purchase', 'discount', 'BENCH' || g, 10,
       CASE WHEN g % 2 = 0 THEN 'piano-from-zero' END, g % 3 = 0,
       now() - make_interval(days => g % 90), now() + interval '3 days'
FROM generate_series(1, :clients / 5) g"""),
    ("decisions", """
INSERT INTO offer_decisions (client_id, requested_id, granted, reason, created_at)
SELECT 1 + g % :clients, (ARRAY['first-purchase','comeback','next-level'])[1 + g % 3], g % 2 = 0, 'bench',
       now() - make_interval(days => g % 90)
FROM generate_series(1, :clients / 2) g"""),
    ("reminders", """
INSERT INTO reminders (client_id, kind, due_at, agreed_at, status, status_reason, sent_at, is_default,
                       source_text, context, created_at, updated_at)
SELECT 1 + (g * 3) % :clients, 'followup', now() - make_interval(days => g % 80),
       now() - make_interval(days => g % 80 + 2),
       (ARRAY['sent','sent','skipped','refused','cancelled','pending'])[1 + g % 6],
       CASE g % 6 WHEN 2 THEN 'клиент уже купил' WHEN 3 THEN 'VK 901' END,
       CASE WHEN g % 6 < 2 THEN now() - make_interval(days => g % 80) END, false, '', '', now(), now()
FROM generate_series(1, :clients / 2) g"""),
    ("alerts", """
INSERT INTO manager_alerts (client_id, reason, day, sent, created_at)
SELECT 1 + (g * 11) % :clients, (ARRAY['просит человека','вопрос без ответа в базе знаний'])[1 + g % 2],
       to_char(now() - make_interval(days => g % 80), 'YYYY-MM-DD'), true,
       now() - make_interval(days => g % 80)
FROM generate_series(1, :clients / 10) g"""),
    ("changes", """
INSERT INTO client_changes (client_id, field, old_value, new_value, source, created_at)
SELECT 1 + g % :clients, 'funnel_stage', 'cold', (ARRAY['warm','hot','client'])[1 + g % 3], 'turn:1',
       now() - make_interval(days => g % 90)
FROM generate_series(1, :clients * 2) g"""),
]


def seed(url: str, clients: int = 10_000, messages: int = 100_000) -> dict[str, float]:
    engine = create_engine(url)
    params = {"clients": clients, "messages": messages, "questions": QUESTIONS,
              "nq": len(QUESTIONS)}
    took: dict[str, float] = {}
    with engine.begin() as conn:
        for name, sql in STEPS:
            t0 = time.perf_counter()
            conn.execute(text(sql), params)
            took[name] = round(time.perf_counter() - t0, 2)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return took


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--messages", type=int, default=100_000)
    a = ap.parse_args()
    print(seed(a.url, a.clients, a.messages), file=sys.stderr)
