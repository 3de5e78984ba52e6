"""Plain-text rendering of a client report for the terminal."""
from __future__ import annotations

import json
from typing import Any


def _analysis_lines(analysis: object) -> list[str]:
    if not isinstance(analysis, dict):
        return ["    analysis: —"]
    keys = ("psych_state", "funnel_stage", "intent", "short_term_strategy",
            "long_term_strategy", "reply_plan")
    lines = [f"    {k}: {analysis.get(k)}" for k in keys if analysis.get(k)]
    for k in ("facts", "follow_up", "offer", "escalate"):
        if analysis.get(k):
            lines.append(f"    {k}: {json.dumps(analysis[k], ensure_ascii=False)}")
    return lines


def format_report(r: dict[str, Any]) -> str:
    card = r["card"]
    out = [f"Client {card['vk_id']}: {card['first_name']} {card['last_name']}".rstrip()]
    out += [f"  {k}: {v}" for k, v in card.items() if k not in ("vk_id",) and v not in (None, "", [])]
    out.append("Purchases:" if r["purchases"] else "Purchases: none")
    out += [f"  {p['order_id']} {p['product_id']} {p['amount_rub']} ₽ paid {p['paid_at']}"
            for p in r["purchases"]]
    out += [f"  access {a['title']}: {'lifetime' if a['lifetime'] else 'until ' + str(a['until'])}"
            for a in r["access"]]
    out.append("Offers:" if r["offers"] else "Offers: none")
    out += [f"  {o['offer_id']} {o['kind']} {o['code'] or ''} {o['percent'] or ''}"
            f" expires {o['expires_at']}" for o in r["offers"]]
    out.append("Reminders:" if r["reminders"] else "Reminders: none")
    out += [f"  #{m['id']} {m['due_at']} {m['status']}: {m['agreed']}" for m in r["reminders"]]
    out.append("Last turns:" if r["turns"] else "Last turns: none")
    for t in r["turns"]:
        out.append(f"  turn {t['id']} [{t['kind']}, {t['status']}, {t['brain']},"
                   f" prompt {t['prompt_version']}] flags={t['flags']}")
        out += _analysis_lines(t["analysis"])
        out.append(f"    reply: {t['reply']}")
    return "\n".join(out)
