"""Judging played dialogs: one call of the brain's judge per dialog (app.brain.gemini.judge), run
concurrently; without a judge every point is `not_judged`."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from app.brain.errors import LlmError
from app.brain.gemini import JudgeRequest, Point, Verdict
from app.brain.prompts.render import entry_text, kb_entry
from app.eval.runner import DialogRun

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.search import KnowledgeIndex

log = logging.getLogger(__name__)
NOT_JUDGED = "без судьи: пункт не проверялся"


class Judge(Protocol):
    judge_model: str
    judge_version: str

    def judge(self, req: JudgeRequest) -> Verdict: ...


@dataclass
class Judged:
    points: list[dict[str, str]]
    usage: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None


def points_of(run: DialogRun) -> list[Point]:
    sc = run.scenario
    return [Point("must", t) for t in sc.must] + [Point("must_not", t) for t in sc.must_not]


def kb_ids_used(run: DialogRun, index: Optional[KnowledgeIndex] = None) -> list[str]:
    """What the turns were grounded on: the analysis' kb_ids plus, like the reply stage, the
    search hits for each burst's text (when the KB's search index is given)."""
    bursts = run.scenario.bursts()
    out: list[str] = []
    for turn in run.turns:
        ids = list((turn.get("analysis") or {}).get("kb_ids") or [])
        n = turn.get("burst")
        if index is not None and isinstance(n, int) and 0 <= n < len(bursts):
            ids += index.search_ids("\n".join(bursts[n]), k=3)
        out += [i for i in ids if isinstance(i, str) and i not in out]
    return out


def kb_passages(kb: Optional[KnowledgeBase], ids: list[str]) -> list[str]:
    return [entry_text(e) for e in (kb_entry(kb, i) for i in ids) if e is not None]


def _as_points(points: list[Point], verdicts: list[Verdict]) -> list[dict[str, str]]:
    return [{"kind": p.kind, "text": p.text, "verdict": v.verdict, "reason": v.reason}
            for p, v in zip(points, verdicts)]


def not_judged(run: DialogRun, reason: str = NOT_JUDGED) -> Judged:
    points = points_of(run)
    return Judged(_as_points(points, [Verdict("not_judged", reason)] * len(points)))


def judge_dialog(judge: Judge, run: DialogRun, kb: Optional[KnowledgeBase], index: Optional[KnowledgeIndex] = None) -> Judged:
    points = points_of(run)
    if not points:
        return Judged([])
    if run.error:
        return not_judged(run, "диалог не доигран: " + run.error[:200])
    req = JudgeRequest(persona=run.scenario.persona,
                       transcript=[(m["role"], m["text"]) for m in run.transcript],
                       points=points, kb_passages=kb_passages(kb, kb_ids_used(run, index)))
    try:
        result = judge.judge(req)
    except LlmError as exc:
        log.warning("judge failed on %s: %s", run.scenario.id, exc)
        return Judged(not_judged(run, f"судья не ответил: {exc}"[:300]).points,
                      error=f"{type(exc).__name__}: {exc}"[:300])
    return Judged(_as_points(points, result.value), usage=asdict(result.usage))


def judge_all(judge: Optional[Judge], runs: list[DialogRun], kb: Optional[KnowledgeBase], index: Optional[KnowledgeIndex],
              concurrency: int, on_done: Optional[Callable[[DialogRun], None]] = None) -> list[Judged]:
    if judge is None:
        return [not_judged(r) for r in runs]

    def one(run: DialogRun) -> Judged:
        judged = judge_dialog(judge, run, kb, index)
        if on_done is not None:
            on_done(run)
        return judged

    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="eval-judge") as pool:
        return list(pool.map(one, runs))
