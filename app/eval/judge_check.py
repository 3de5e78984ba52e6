"""`flask eval judge-check [LABELS.jsonl]`: how often the judge agrees with a person.

A labelled set is JSONL, one dialog a line:

    {"id": "…", "persona": "…",
     "transcript": [{"role": "client" | "assistant" | "program", "text": "…"}, …],
     "points": [{"kind": "must" | "must_not", "text": "…", "label": "pass" | "fail",
                 "why": "the person's reason (not shown to the judge)"}]}

"program" lines are the turn's decisions as the lab gives them to the judge. Every dialog goes
to the judge with the whole KB; its verdicts are compared with the labels.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from app.brain.errors import LlmError
from app.brain.gemini import JudgeRequest, Point
from app.eval.judging import Judge, kb_passages

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

ROLES = ("client", "assistant", "program")
LABELS = ("pass", "fail")


class LabelsError(ValueError):
    """A labelled set that cannot be used; the message names the line and the field."""


@dataclass(frozen=True)
class LabelledPoint:
    kind: str
    text: str
    label: str


@dataclass(frozen=True)
class LabelledDialog:
    id: str
    persona: str
    transcript: tuple[tuple[str, str], ...]
    points: tuple[LabelledPoint, ...]


def _dialog(obj: object, where: str) -> LabelledDialog:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise LabelsError(f"{where}: expected an object with a string 'id'")
    where = f"{where} ({obj['id']})"
    transcript = obj.get("transcript")
    if not isinstance(transcript, list) or not transcript:
        raise LabelsError(f"{where}.transcript: expected a non-empty list")
    lines = []
    for i, m in enumerate(transcript):
        if not (isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("text"), str)):
            raise LabelsError(f"{where}.transcript[{i}]: needs role ({'|'.join(ROLES)}) and text")
        lines.append((m["role"], m["text"]))
    points = obj.get("points")
    if not isinstance(points, list) or not points:
        raise LabelsError(f"{where}.points: expected a non-empty list")
    out = []
    for i, p in enumerate(points):
        if not (isinstance(p, dict) and p.get("kind") in ("must", "must_not")
                and isinstance(p.get("text"), str) and p.get("label") in LABELS):
            raise LabelsError(f"{where}.points[{i}]: needs kind (must|must_not), text and "
                              "label (pass|fail)")
        out.append(LabelledPoint(p["kind"], p["text"], p["label"]))
    return LabelledDialog(obj["id"], str(obj.get("persona") or ""), tuple(lines), tuple(out))


def load_labels(path: str | Path) -> list[LabelledDialog]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{p}: cannot read ({exc})") from exc
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelsError(f"{p.name}:{n}: not valid JSON ({exc.msg})") from exc
            out.append(_dialog(obj, f"{p.name}:{n}"))
    if not out:
        raise LabelsError(f"{p}: no dialogs")
    return out


def _judge_one(judge: Judge, d: LabelledDialog,
               kb: Optional[KnowledgeBase]) -> tuple[list[str], Optional[str]]:
    req = JudgeRequest(persona=d.persona, transcript=list(d.transcript),
                       points=[Point(p.kind, p.text) for p in d.points],
                       kb_passages=kb_passages(kb))
    try:
        result = judge.judge(req)
    except LlmError as exc:
        return ["not_judged"] * len(d.points), f"{type(exc).__name__}: {exc}"[:300]
    return [v.verdict for v in result.value], None


def check(judge: Judge, dialogs: list[LabelledDialog], kb: Optional[KnowledgeBase],
          concurrency: int = 4) -> dict[str, Any]:
    """Agreement of the judge's verdicts with the labels, overall and per kind of point."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="judge-check") as pool:
        answers = list(pool.map(lambda d: _judge_one(judge, d, kb), dialogs))
    rows: list[dict[str, Any]] = []
    for d, (verdicts, error) in zip(dialogs, answers, strict=True):  # one answer per dialog
        for p, v in zip(d.points, verdicts, strict=False):  # as the judge answered
            rows.append({"dialog": d.id, "kind": p.kind, "text": p.text, "label": p.label,
                         "verdict": v, "agree": v == p.label, "error": error})

    def share(kind: Optional[str]) -> dict[str, Any]:
        mine = [r for r in rows if kind is None or r["kind"] == kind]
        judged = [r for r in mine if r["verdict"] != "not_judged"]
        agree = sum(1 for r in mine if r["agree"])
        return {"points": len(mine), "judged": len(judged), "agree": agree,
                "agreement": round(agree / len(mine), 4) if mine else 0.0}

    # of the points a person failed, how many the judge failed too (and the reverse)
    failed = [r for r in rows if r["label"] == "fail"]
    passed = [r for r in rows if r["label"] == "pass"]
    return {"dialogs": len(dialogs), "model": judge.judge_model,
            "all": share(None), "must": share("must"), "must_not": share("must_not"),
            "caught_fail": sum(r["verdict"] == "fail" for r in failed), "labelled_fail": len(failed),
            "kept_pass": sum(r["verdict"] == "pass" for r in passed), "labelled_pass": len(passed),
            "errors": sorted({f"{r['dialog']}: {r['error']}" for r in rows if r["error"]}),
            "disagreements": [r for r in rows if not r["agree"]]}


def format_check(r: dict[str, Any]) -> list[str]:
    a = r["all"]
    out = [f"judge {r['model']} on {r['dialogs']} labelled dialogs: agreement "
           f"{a['agree']}/{a['points']} ({a['agreement']:.0%})",
           f"  must {r['must']['agree']}/{r['must']['points']} · must_not "
           f"{r['must_not']['agree']}/{r['must_not']['points']} · labelled fail caught "
           f"{r['caught_fail']}/{r['labelled_fail']} · labelled pass kept "
           f"{r['kept_pass']}/{r['labelled_pass']} · not judged {a['points'] - a['judged']}"]
    out += [f"  error {e}" for e in r["errors"]]
    out += [f"  ✗ {d['dialog']} [{d['kind']}] {d['text']}: person {d['label']}, judge "
            f"{d['verdict']}" for d in r["disagreements"]]
    return out
