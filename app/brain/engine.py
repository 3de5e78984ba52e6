"""One turn through the brain: analysis → effects (pipeline) → reply → guardrails.

A reply that promises a person is kept in code (`promises.keep_promise`): "write to the manager"
becomes a hand-over, the client is told when a person answers, and `BrainResult.handoff` asks the
pipeline to call one.

Whatever fails, the client gets an answer: a failed model call falls back to the offline
rules, and a reply that fails the guardrails twice is replaced by the offline reply or, if
even that fails, by `FALLBACK_REPLY` (then `BrainResult.fallback` is set: call a human).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Optional

from app.brain.analysis import Analysis
from app.brain.contract import Brain, BrainResult, Decisions, StageResult, TurnContext
from app.brain.errors import LlmError
from app.brain.guardrails import FALLBACK_REPLY, check_reply_details
from app.brain.promises import find_promise, keep_promise
from app.brain.prompts import PROMPT_VERSION
from app.platform.vocabulary import TurnFlag

log = logging.getLogger(__name__)

EventHook = Callable[[str, dict[str, Any]], None]


class _Run:
    def __init__(self, ctx: TurnContext, primary: Brain, offline: Brain,
                 on_event: Optional[EventHook]):
        self.ctx, self.primary, self.offline = ctx, primary, offline
        self.on_event = on_event
        self.flags: list[str] = []
        self.reasons: list[str] = []
        self.usage: dict[str, Any] = {}

    def event(self, name: str, **data: object) -> None:
        data.setdefault("turn_id", self.ctx.turn_id)
        log.info("brain %s %s", name, data)
        if self.on_event is not None:
            self.on_event(name, data)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)

    def record(self, stage: str, result: StageResult) -> None:
        self.usage[stage] = dict(dataclasses.asdict(result.usage), prompt_chars=result.prompt_chars)
        for name in result.flags:
            self.flag(name)

    def analyze(self) -> Analysis:
        try:
            result = self.primary.analyze(self.ctx)
        except LlmError as exc:
            self.flag(TurnFlag.ANALYSIS_FALLBACK)
            self.event("analysis_fallback", error=type(exc).__name__, detail=str(exc)[:300])
            result = self.offline.analyze(self.ctx)
        self.record("analysis", result)
        analysis: Analysis = result.value  # StageResult.value is an Analysis for stage 1
        return analysis

    def reply(self, brain: Brain, analysis: Analysis, decisions: Decisions,
              stage: str) -> Optional[str]:
        """The reply text from `brain`, or None when its model call failed."""
        try:
            result = brain.write_reply(self.ctx, analysis, decisions)
        except LlmError as exc:
            self.event(f"{stage}_failed", error=type(exc).__name__, detail=str(exc)[:300])
            return None
        self.record(stage, result)
        return (result.value or "").strip()

    def offline_reply(self, analysis: Analysis, decisions: Decisions, stage: str) -> str:
        return self.reply(self.offline, analysis, decisions, stage) or ""

    def guarded(self, text: str, analysis: Analysis, decisions: Decisions,
                stage: str = "reply") -> list[str]:
        """Flag names of `text`; each flag's reason and fragment go to usage["flag_details"]
        (a list beside the per-stage usage mappings), which the panel shows on the turn."""
        details = check_reply_details(text, self.ctx, decisions, analysis)
        flags = list(dict.fromkeys(f.name for f in details))
        # what the regeneration is told: each problem with its reason and fragment
        self.reasons = [f"{d.name}: {d.reason}" + (f" («{d.fragment[:60]}»)" if d.fragment else "")
                        for d in details[:4]]
        for f in flags:
            self.flag(TurnFlag.GUARDRAIL.detail(f))
        if details:
            stored = self.usage.setdefault("flag_details", [])
            stored += [{"flag": f"guardrail:{d.name}", "stage": stage, "reason": d.reason,
                        "fragment": d.fragment[:200]} for d in details][:20 - len(stored)]
            self.event("guardrail", flags=flags, text=text[:300])
        return flags

    def write(self, analysis: Analysis, decisions: Decisions) -> tuple[str, bool]:
        text = self.reply(self.primary, analysis, decisions, "reply")
        from_offline = text is None or self.primary is self.offline
        if text is None:
            self.flag(TurnFlag.REPLY_FALLBACK)
            text = self.offline_reply(analysis, decisions, "reply")
        flags = self.guarded(text, analysis, decisions)
        if flags and not from_offline:
            retry = dataclasses.replace(decisions, guardrail_flags=self.reasons or flags)
            text = self.reply(self.primary, analysis, retry, "reply_regenerated") or ""
            flags = (self.guarded(text, analysis, decisions, "reply_regenerated") if text
                     else ["empty"])
            if flags:
                self.flag(TurnFlag.REPLY_FALLBACK)
                text = self.offline_reply(analysis, decisions, "reply_offline")
                flags = self.guarded(text, analysis, decisions, "reply_offline")
        if flags:
            self.event("fallback_reply", flags=flags)
            return FALLBACK_REPLY, True
        return text, False


def run_brain(ctx: TurnContext, primary: Brain, offline: Brain,
              apply_effects: Callable[[Analysis], Decisions],
              on_event: Optional[EventHook] = None) -> BrainResult:
    """Stage 1, the pipeline's side effects, stage 2 and the checks; never raises LlmError."""
    run = _Run(ctx, primary, offline, on_event)
    analysis = run.analyze()
    decisions = apply_effects(analysis)
    run.flags += [TurnFlag.EFFECT_ERROR.detail(name) for name in decisions.effect_errors]
    text, fallback = run.write(analysis, decisions)
    text, promised = keep_promise(text, ctx.now, ctx.card.timezone, ctx.kb)
    handoff = ""
    if promised and not decisions.escalated and not fallback:
        promise = find_promise(text)
        handoff = "ассистент пообещал клиенту ответ человека: «" + (
            promise.sentence if promise else text)[:300] + "»"
        run.flag(TurnFlag.HANDOFF_PROMISE)
    version = getattr(primary, "prompt_version", PROMPT_VERSION)  # another prompts directory
    return BrainResult(analysis=analysis, reply_text=text, decisions=decisions,
                       prompt_version=version, usage=run.usage, flags=run.flags,
                       fallback=fallback, handoff=handoff)
