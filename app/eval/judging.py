"""Judging played dialogs: one call of the brain's judge per dialog (app.brain.gemini.judge), run
concurrently; without a judge every point is `not_judged`.

The judge sees what the reply model saw: the whole KB (not search hits), and, after each turn's
messages, what the program decided in that turn (offers granted or refused, escalations,
reminders), so a point such as «обещал скидку, которую не выдала программа» can be judged.
With `repeat` > 1 every dialog is judged that many times: the first verdict stands, and each
point says whether the verdicts flipped between calls.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol
from zoneinfo import ZoneInfo

from app.brain.contract import StageResult
from app.brain.errors import LlmError
from app.brain.gemini import NO_PLACE, JudgeRequest, Point, Verdict
from app.brain.prompts import PromptSet
from app.brain.prompts.kb import render_whole_kb
from app.eval.runner import DialogRun
from app.platform.config import Settings

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase
    from app.knowledge.search import KnowledgeIndex

log = logging.getLogger(__name__)
NOT_JUDGED = "без судьи: пункт не проверялся"
SCHOOL_TZ = ZoneInfo("Europe/Moscow")


class Judge(Protocol):
    judge_model: str
    judge_version: str

    def judge(self, req: JudgeRequest) -> StageResult: ...

    def close(self) -> None: ...


class MakeJudge(Protocol):
    """Builds the judge from the settings (EVAL_JUDGE_*), its prompt from `prompts`; None
    without GEMINI_API_KEY. Handed in by the composition, which builds it beside the app's
    Gemini (`judge_from`)."""

    def __call__(self, settings: Settings, prompts: PromptSet) -> Optional[Judge]: ...


@dataclass
class Judged:
    points: list[dict[str, Any]]
    usage: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None


def points_of(run: DialogRun) -> list[Point]:
    sc = run.scenario
    return [Point("must", t) for t in sc.must] + [Point("must_not", t) for t in sc.must_not]


def _moment(value: object) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return when.astimezone(SCHOOL_TZ).strftime("%d.%m.%Y %H:%M") + " по Москве"


def decisions_text(decisions: dict[str, Any]) -> str:
    """One turn's stored decisions as a line the judge reads."""
    rows: list[str] = []
    offer = decisions.get("offer") or None
    if isinstance(offer, dict):
        what = offer.get("title") or offer.get("requested_id") or "?"
        if offer.get("granted") and offer.get("kind") == "bonus":
            rows.append(f"бонус выдан: {what}")
        elif offer.get("granted"):
            until = f" до {_moment(offer['expires_at'])}" if offer.get("expires_at") else ""
            rows.append(f"скидка выдана: {offer.get('percent')}% по промокоду "
                        f"{offer.get('code')}{until} ({offer.get('requested_id')})")
        else:
            rows.append(f"в скидке или бонусе «{what}» отказано: {offer.get('reason') or '—'}")
    if decisions.get("reminders_cancelled"):
        rows.append("все напоминания отменены (клиент просил не писать)")
    elif decisions.get("reminder_due_at"):
        default = " (время выбрала программа, клиент его не называл)" \
            if decisions.get("reminder_is_default") else ""
        rows.append(f"напоминание поставлено на {_moment(decisions['reminder_due_at'])}{default}")
    if decisions.get("escalated"):
        rows.append("передано менеджеру (эскалация)")
    return "; ".join(rows) or "решений нет (скидок, эскалаций, напоминаний не было)"


def judge_transcript(run: DialogRun) -> list[tuple[str, str]]:
    """The dialog with a «Программа» line after each turn's messages: what was decided there."""
    by_burst: dict[int, list[str]] = {}
    for turn in run.turns:
        n = turn.get("burst")
        if isinstance(n, int):
            by_burst.setdefault(n, []).append(decisions_text(turn.get("decisions") or {}))
    out: list[tuple[str, str]] = []
    for i, m in enumerate(run.transcript):
        out.append((m["role"], m["text"]))
        n = m.get("burst")
        nxt = run.transcript[i + 1].get("burst") if i + 1 < len(run.transcript) else None
        if isinstance(n, int) and nxt != n and n in by_burst:
            out += [("program", line) for line in by_burst.pop(n)]
    return out


def kb_passages(kb: Optional[KnowledgeBase]) -> list[str]:
    """The whole KB, rendered as the reply model gets it."""
    return [render_whole_kb(kb)] if kb is not None else []


_SPACE_RE = re.compile(r"[\s«»\"“”„'’.,!?…—–-]+")


def _norm(text: str) -> str:
    return _SPACE_RE.sub(" ", text.lower().replace("ё", "е")).strip()


def evidence_found(evidence: str, assistant_texts: list[str]) -> bool:
    """A quote really taken from the assistant's messages (or the judge says there is none)."""
    ev = _norm(evidence)
    if not ev or ev == _norm(NO_PLACE):
        return True
    said = " ".join(_norm(t) for t in assistant_texts)
    return all(_norm(piece) in said for piece in re.split(r"\.\.\.|…", evidence) if _norm(piece))


def _as_points(points: list[Point], verdicts: list[Verdict],
               assistant_texts: Optional[list[str]] = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p, v in zip(points, verdicts, strict=False):  # as the judge answered
        row: dict[str, Any] = {"kind": p.kind, "text": p.text, "verdict": v.verdict,
                               "reason": v.reason}
        if v.answer:
            row["evidence"] = v.evidence
            row["evidence_found"] = evidence_found(v.evidence, assistant_texts or [])
        out.append(row)
    return out


def not_judged(run: DialogRun, reason: str = NOT_JUDGED) -> Judged:
    points = points_of(run)
    return Judged(_as_points(points, [Verdict("not_judged", reason)] * len(points)))


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    if not total:
        return dict(usage)
    for key in ("prompt_tokens", "output_tokens", "cached_tokens", "thinking_tokens",
                "latency_ms", "attempts"):
        total[key] = int(total.get(key) or 0) + int(usage.get(key) or 0)
    return total


def judge_request(run: DialogRun, kb: Optional[KnowledgeBase]) -> JudgeRequest:
    return JudgeRequest(persona=run.scenario.persona, transcript=judge_transcript(run),
                        points=points_of(run), kb_passages=kb_passages(kb))


def judge_dialog(judge: Judge, run: DialogRun, kb: Optional[KnowledgeBase],
                 index: Optional[KnowledgeIndex] = None, repeat: int = 1) -> Judged:
    """`index` is unused (the judge reads the whole KB); kept for callers passing it."""
    points = points_of(run)
    if not points:
        return Judged([])
    if run.error:
        return not_judged(run, "диалог не доигран: " + run.error[:200])
    req = judge_request(run, kb)
    rounds: list[list[Verdict]] = []
    usage: dict[str, Any] = {}
    for _ in range(max(1, repeat)):
        try:
            result = judge.judge(req)
        except LlmError as exc:
            log.warning("judge failed on %s: %s", run.scenario.id, exc)
            if rounds:
                continue  # a later call failed: the earlier verdicts stand
            return Judged(not_judged(run, f"судья не ответил: {exc}"[:300]).points,
                          error=f"{type(exc).__name__}: {exc}"[:300])
        rounds.append(result.value)
        usage = _add_usage(usage, asdict(result.usage))
    judged = Judged(_as_points(points, rounds[0], run.assistant_texts()), usage=usage)
    if repeat > 1:
        for i, row in enumerate(judged.points):
            seen = [r[i].verdict for r in rounds]
            row["verdicts_seen"] = seen
            row["flipped"] = len({v for v in seen if v != "not_judged"}) > 1
    return judged


def judge_all(judge: Optional[Judge], runs: list[DialogRun], kb: Optional[KnowledgeBase],
              index: Optional[KnowledgeIndex], concurrency: int,
              on_done: Optional[Callable[[DialogRun], None]] = None,
              repeat: int = 1) -> list[Judged]:
    if judge is None:
        return [not_judged(r) for r in runs]

    def one(run: DialogRun) -> Judged:
        judged = judge_dialog(judge, run, kb, index, repeat=repeat)
        if on_done is not None:
            on_done(run)
        return judged

    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="eval-judge") as pool:
        return list(pool.map(one, runs))
