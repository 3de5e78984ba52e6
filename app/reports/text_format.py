"""The summary as a readable plain-text table for the terminal."""
from __future__ import annotations

from typing import Any

from app.platform.ru_format import format_rub


def _rows(title: str, pairs: list[tuple[str, Any]]) -> list[str]:
    width = max([len(k) for k, _ in pairs] + [10])
    return [title] + [f"  {k.ljust(width)}  {v}" for k, v in pairs]


_rub = format_rub


def _money(r: dict[str, Any]) -> list[str]:
    rev, o = r["revenue"], r["offers"]
    after = f"after a dialog (≤{rev['attribution_days']} d)"
    out = _rows("Revenue", [
        ("total", f"{_rub(rev['total_rub'])} ({rev['orders']} orders)"),
        (after, f"{_rub(rev['after_dialog_rub'])} ({rev['orders_after_dialog']} orders)")])
    return out + _rows("Offers", [
        ("granted / refused / redeemed", f"{o['granted']} / {o['refused']} / {o['redeemed']}"),
        ("revenue forgone", _rub(o["forgone_rub"])),
        *[(f"  {k}", f"{v['granted']} / {v['refused']} / {v['redeemed']}")
          for k, v in o["by_offer"].items()]])


def _follow_ups(r: dict[str, Any]) -> list[str]:
    rem, esc = r["reminders"], r["escalations"]
    median = esc["minutes_to_person"]["median"]
    out = _rows("Reminders", [
        ("planned", rem["planned"]), ("sent", rem["sent"]), ("skipped", rem["skipped"]),
        ("refused by VK", rem["refused"]),
        ("cancelled / pending", f"{rem['cancelled']} / {rem['pending']}"),
        ("clients wrote back ≤48 h", rem["clients_answered_48h"]),
        *[(f"  skipped: {k}", v) for k, v in rem["skipped_reasons"].items()]])
    return out + _rows("Escalations", [
        ("alerts", esc["count"]), ("answered by a person", esc["answered_by_person"]),
        ("minutes to a person (median)", median if median is not None else "—"),
        *[(f"  {k[:60]}", v) for k, v in esc["by_reason"].items()]])


def format_summary(r: dict[str, Any]) -> str:
    p, f, m = r["period"], r["funnel"], r["model"]
    out = [f"Report for the last {p['days']} day(s): {p['since'][:16]} … {p['until'][:16]}", ""]
    out += _rows("Funnel", [("clients in dialogs", f["clients_in_dialogs"]),
                            *[(f"  now {k}", v) for k, v in f["by_stage"].items()],
                            ("became clients", f["became_clients"])])
    out += _money(r) + _follow_ups(r)
    tokens = f"{m['prompt_tokens']} / {m['cached_tokens']} / {m['output_tokens']}"
    out += _rows("Model", [("turns", m["turns"]), ("prompt / cached / output tokens", tokens),
                           ("cost", f"${m['cost_usd']:.4f}"),
                           ("fallback turns", m["fallback_turns"])])
    out.append("KB gaps (most frequent first)" if r["kb_gaps"] else "KB gaps: none")
    out += [f"  {g['count']:>4} × {g['question']}" for g in r["kb_gaps"][:20]]
    return "\n".join(out)
