"""`flask eval compare A/results.json B/results.json`: what changed from run A to run B —
per dialog and per point (pass→fail, fail→pass), hard-check and flag deltas, prompt versions
and token cost of each. Informational: the owner decides, the command always exits 0."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional


def load_results(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise ValueError(f"{path}: not an eval results.json (no 'scenarios')")
    for n, sc in enumerate(data["scenarios"]):
        problem = _shape_problem(sc)
        if problem:
            raise ValueError(f"{path}: not an eval results.json: scenarios[{n}]{problem}")
    return data


def _shape_problem(sc: object) -> str:
    """What keeps a scenario of results.json from being compared ("" when nothing)."""
    if not isinstance(sc, dict):
        return " is not an object"
    if not isinstance(sc.get("id"), str):
        return ".id is missing"
    checks = sc.get("checks")
    if not (isinstance(checks, dict) and all(isinstance(checks.get(k), int)
                                             for k in ("passed", "total"))):
        return ".checks needs integer 'passed' and 'total'"
    for i, p in enumerate(sc.get("points") or []):
        if not (isinstance(p, dict) and all(isinstance(p.get(k), str)
                                            for k in ("kind", "text", "verdict"))):
            return f".points[{i}] needs 'kind', 'text' and 'verdict'"
    return ""


def _tokens(r: dict[str, Any]) -> str:
    s = r.get("summary") or {}
    t, j = s.get("tokens") or {}, s.get("judge_tokens") or {}
    return (f"{t.get('total', 0)} tokens (prompt {t.get('prompt', 0)}, output "
            f"{t.get('output', 0)}), judge {j.get('total', 0)}")


def _delta(a: int, b: int) -> str:
    return f"{a} → {b}" + (f" ({b - a:+d})" if a != b else "")


def _flags(sc: Optional[dict[str, Any]]) -> Counter[str]:
    return Counter(f for t in (sc or {}).get("turns") or [] for f in t.get("flags") or [])


def _passed(sc: Optional[dict[str, Any]], kind: str) -> str:
    if sc is None:
        return "—"
    mine = [p for p in sc.get("points") or [] if p["kind"] == kind]
    return f"{sum(p['verdict'] == 'pass' for p in mine)}/{len(mine)}" if mine else "—"


def _checks(sc: Optional[dict[str, Any]]) -> str:
    return "—" if sc is None else f"{sc['checks']['passed']}/{sc['checks']['total']}"


def point_changes(a: Optional[dict[str, Any]], b: Optional[dict[str, Any]]) -> list[str]:
    before = {(p["kind"], p["text"]): p for p in (a or {}).get("points") or []}
    out = []
    for p in (b or {}).get("points") or []:
        old = before.get((p["kind"], p["text"]))
        if old is not None and old["verdict"] != p["verdict"]:
            out.append(f"  [{p['kind']}] {p['text']}: {old['verdict']} → {p['verdict']}"
                       + (f" — {p['reason']}" if p.get("reason") else ""))
    return out


def check_changes(a: Optional[dict[str, Any]], b: Optional[dict[str, Any]]) -> list[str]:
    fa = set((a or {}).get("checks", {}).get("failed") or [])
    fb = set((b or {}).get("checks", {}).get("failed") or [])
    return ([f"  check now fails: {f}" for f in sorted(fb - fa)]
            + [f"  check now passes: {f}" for f in sorted(fa - fb)])


def flag_changes(a: Optional[dict[str, Any]], b: Optional[dict[str, Any]]) -> list[str]:
    ca, cb = _flags(a), _flags(b)
    return [f"  flag {f}: {_delta(ca[f], cb[f])}" for f in sorted(set(ca) | set(cb))
            if ca[f] != cb[f]]


def _run_line(label: str, path: str, r: dict[str, Any]) -> str:
    judge = r.get("judge") or {}
    return (f"{label}: {path}\n   prompts {r.get('prompt_version')} · brain {r.get('brain')} · "
            f"kb {r.get('kb_version')} · judge {judge.get('model') or 'none'} · {_tokens(r)}")


def _totals(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    sa, sb = a.get("summary") or {}, b.get("summary") or {}
    ca, cb = sa.get("checks") or {}, sb.get("checks") or {}
    pa, pb = sa.get("points") or {}, sb.get("points") or {}
    fa, fb = Counter(sa.get("flags") or {}), Counter(sb.get("flags") or {})
    rows = [f"checks passed: {_delta(ca.get('passed', 0), cb.get('passed', 0))} "
            f"(of {ca.get('total', 0)} / {cb.get('total', 0)})"]
    rows += [f"points {v}: {_delta(pa.get(v, 0), pb.get(v, 0))}"
             for v in ("pass", "fail", "not_judged")]
    rows += [f"flag {f}: {_delta(fa[f], fb[f])}" for f in sorted(set(fa) | set(fb))]
    return rows


def compare(a: dict[str, Any], b: dict[str, Any], path_a: str = "A",
            path_b: str = "B") -> list[str]:
    by_a = {s["id"]: s for s in a["scenarios"]}
    by_b = {s["id"]: s for s in b["scenarios"]}
    ids = list(by_a) + [i for i in by_b if i not in by_a]
    rows = [_run_line("A", path_a, a), _run_line("B", path_b, b), "", "Totals (A → B)"]
    rows += ["  " + r for r in _totals(a, b)]
    rows += ["", f"{'dialog':<28} {'checks A→B':<14} {'must A→B':<12} {'must_not A→B':<14} "
                 f"{'flags A→B':<10}"]
    details: list[str] = []
    for i in ids:
        sa, sb = by_a.get(i), by_b.get(i)
        flags = f"{sum(_flags(sa).values())}→{sum(_flags(sb).values())}"
        rows.append(f"{i[:28]:<28} {_checks(sa) + '→' + _checks(sb):<14} "
                    f"{_passed(sa, 'must') + '→' + _passed(sb, 'must'):<12} "
                    f"{_passed(sa, 'must_not') + '→' + _passed(sb, 'must_not'):<14} {flags:<10}")
        changes = point_changes(sa, sb) + check_changes(sa, sb) + flag_changes(sa, sb)
        if sa is None or sb is None:
            changes.insert(0, "  only in " + ("B" if sa is None else "A"))
        if changes:
            details += [i] + changes
    rows += ["", "Changes per dialog"] + (details or ["  none"])
    return rows
