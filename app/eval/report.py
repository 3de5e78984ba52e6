"""report.md: a summary table at the top, then per dialog the transcript, each point with its
verdict and the judge's reason, the hard checks and the guardrail flags."""
from __future__ import annotations

from typing import Any

VERDICT_MARK = {"pass": "✅ pass", "fail": "❌ fail", "not_judged": "— not_judged"}
ROLE = {"client": "Клиент", "assistant": "Ассистент"}


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def verdict_counts(points: list[dict[str, Any]], kind: str) -> str:
    mine = [p for p in points if p["kind"] == kind]
    if not mine:
        return "—"
    passed = sum(p["verdict"] == "pass" for p in mine)
    failed = sum(p["verdict"] == "fail" for p in mine)
    if passed + failed == 0:
        return f"{len(mine)} не судились"
    return f"{passed}/{len(mine)}" + (f" ({failed} fail)" if failed else "")


def _header(r: dict[str, Any]) -> list[str]:
    s = r["summary"]
    judge = r.get("judge") or {}
    pts = s["points"]
    rows = [
        "# Прогон диалогов (eval)", "",
        f"- Промпты: `{r['prompt_version']}` · модель: `{r['brain']}` · база знаний: "
        f"`{r['kb_version']}`",
        "- Судья: " + (f"`{judge.get('model')}`, промпт `{judge.get('prompt_version')}`"
                       if judge else "не использовался (все пункты — not_judged)"),
        f"- Диалогов: {s['dialogs']} · ответов ассистента: {s['replies']} · с ошибкой: "
        f"{s['dialogs_with_errors']}",
        f"- Жёсткие проверки: {s['checks']['passed']}/{s['checks']['total']} "
        f"(все пройдены в {s['dialogs_all_checks_passed']} диалогах)",
        f"- Пункты: pass {pts['pass']} · fail {pts['fail']} · not_judged {pts['not_judged']}",
        f"- Токены: {s['tokens']['total']} (промпт {s['tokens']['prompt']}, ответ "
        f"{s['tokens']['output']}); судья: {s['judge_tokens']['total']}",
        "- Флаги: " + (", ".join(f"`{k}` ×{v}" for k, v in s["flags"].items()) or "нет"),
        "", "| Диалог | Ответов | Проверки | must | must_not | Флаги |",
        "|---|---|---|---|---|---|",
    ]
    for sc in r["scenarios"]:
        replies = sum(1 for m in sc["transcript"] if m["role"] == "assistant")
        ch = sc["checks"]
        mark = "" if ch["passed"] == ch["total"] else " ⚠️"
        rows.append(f"| [{cell(sc['id'])}](#{anchor(sc['id'])}) | {replies} | "
                    f"{ch['passed']}/{ch['total']}{mark} | {verdict_counts(sc['points'], 'must')} | "
                    f"{verdict_counts(sc['points'], 'must_not')} | "
                    f"{cell(', '.join(sc.get('flags') or [])) or '—'} |")
    return rows


def anchor(sid: str) -> str:
    return "d-" + "".join(c if c.isalnum() or c == "-" else "-" for c in sid.lower())


def _dialog(sc: dict[str, Any]) -> list[str]:
    rows = ["", f'<a id="{anchor(sc["id"])}"></a>', f"## {sc['id']}", ""]
    if sc.get("persona"):
        rows += [f"*{sc['persona']}*", ""]
    if sc.get("error"):
        rows += [f"**Ошибка:** {sc['error']}", ""]
    for m in sc["transcript"]:
        text = m["text"].replace("\n", "\n> ")
        rows.append(f"> **{ROLE.get(m['role'], m['role'])}:** {text}")
        rows.append(">")
    if rows[-1] == ">":
        rows.pop()
    rows += ["", "**Пункты**", ""]
    if sc["points"]:
        rows += ["| | Пункт | Вердикт | Причина |", "|---|---|---|---|"]
        rows += [f"| {p['kind']} | {cell(p['text'])} | {VERDICT_MARK.get(p['verdict'], p['verdict'])}"
                 f" | {cell(p['reason'])} |" for p in sc["points"]]
    else:
        rows.append("нет")
    ch = sc["checks"]
    rows += ["", f"**Жёсткие проверки:** {ch['passed']}/{ch['total']}"]
    rows += [f"- не пройдено: {f}" for f in ch["failed"]]
    rows += ["", "**Флаги по ходам:** " + _turn_flags(sc["turns"])]
    return rows


def _turn_flags(turns: list[dict[str, Any]]) -> str:
    parts = [f"ход {i + 1}: " + ", ".join(f"`{f}`" for f in t["flags"])
             for i, t in enumerate(turns) if t.get("flags")]
    return "; ".join(parts) or "нет"


def render_report(results: dict[str, Any]) -> str:
    rows = _header(results)
    for sc in results["scenarios"]:
        rows += _dialog(sc)
    return "\n".join(rows) + "\n"
