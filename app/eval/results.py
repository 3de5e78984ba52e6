"""results.json: what a run played, checked and judged, plus a summary (keys are an interface:
`flask eval compare`, the panel and the owner's own scripts read them)."""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from app.eval.checks import run_checks
from app.eval.judging import Judged
from app.eval.runner import DialogRun

VERDICT_KINDS = ("pass", "fail", "not_judged")


def _tokens(usages: list[dict[str, Any]]) -> dict[str, int]:
    prompt = sum(int(u.get("prompt_tokens") or 0) for u in usages if isinstance(u, dict))
    output = sum(int(u.get("output_tokens") or 0) + int(u.get("thinking_tokens") or 0)
                 for u in usages if isinstance(u, dict))  # thinking is billed as output
    return {"prompt": prompt, "output": output, "total": prompt + output}


def turn_tokens(run: DialogRun) -> dict[str, int]:
    return _tokens([u for t in run.turns for u in (t.get("usage") or {}).values()])


def flags_of(run: DialogRun) -> list[str]:
    return [f for t in run.turns for f in t.get("flags") or []]


def scenario_result(run: DialogRun, judged: Judged) -> dict[str, Any]:
    sc = run.scenario
    return {
        "id": sc.id, "persona": sc.persona,
        "transcript": run.transcript,
        "checks": run_checks(sc.checks, run.assistant_texts(), run.handed_over).as_dict(),
        "points": judged.points,
        "turns": run.turns,
        "flags": sorted(set(flags_of(run))),
        "tokens": turn_tokens(run),
        "judge_usage": judged.usage,
        "error": run.error or judged.error,
    }


def _verdicts(scenarios: list[dict[str, Any]], kind: str | None = None) -> dict[str, int]:
    counts = Counter(p["verdict"] for s in scenarios for p in s["points"]
                     if kind is None or p["kind"] == kind)
    return {v: counts.get(v, 0) for v in VERDICT_KINDS}


def summarize(scenarios: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    flags = Counter(f for s in scenarios for t in s["turns"] for f in t.get("flags") or [])
    return {
        "dialogs": len(scenarios),
        "dialogs_with_errors": sum(1 for s in scenarios if s.get("error")),
        "replies": sum(1 for s in scenarios for m in s["transcript"] if m["role"] == "assistant"),
        "checks": {"passed": sum(s["checks"]["passed"] for s in scenarios),
                   "total": sum(s["checks"]["total"] for s in scenarios)},
        "dialogs_all_checks_passed": sum(1 for s in scenarios
                                         if s["checks"]["passed"] == s["checks"]["total"]),
        "points": _verdicts(scenarios),
        "must": _verdicts(scenarios, "must"),
        "must_not": _verdicts(scenarios, "must_not"),
        "flags": dict(sorted(flags.items())),
        "tokens": _tokens([u for s in scenarios for t in s["turns"]
                           for u in (t.get("usage") or {}).values()]),
        "judge_tokens": _tokens([s.get("judge_usage") or {} for s in scenarios]),
        "judge_stability": _stability(scenarios),
        "duration_s": round(duration_s, 1),
    }


def _stability(scenarios: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """With `--repeat N`: on how many points the N verdicts were not all the same."""
    rows = [p for s in scenarios for p in s["points"] if "flipped" in p]
    if not rows:
        return None
    flipped = sum(bool(p["flipped"]) for p in rows)
    return {"repeat": max(len(p.get("verdicts_seen") or []) for p in rows), "points": len(rows),
            "flipped": flipped, "flip_rate": round(flipped / len(rows), 4)}


def build_results(meta: dict[str, Any], runs: list[DialogRun], judged: list[Judged],
                  duration_s: float) -> dict[str, Any]:
    scenarios = [scenario_result(r, j) for r, j in zip(runs, judged, strict=True)]
    return {**meta, "scenarios": scenarios, "summary": summarize(scenarios, duration_s)}
