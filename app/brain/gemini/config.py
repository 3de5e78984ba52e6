"""The generation config of every Gemini call, per model family (the one place that knows it).

- Gemini 3 ids (`gemini-3…`, and later majors) take `thinking_config.thinking_level` and keep
  the default temperature: Google's Gemini 3 guide says lower values may loop or degrade.
- Gemini 2.5 ids take `thinking_config.thinking_budget`; a thinking level there is a 400.
- Other ids (older families, test stand-ins) get no thinking config.
Every call carries `max_output_tokens` (thinking tokens count against it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Optional

from google.genai import types as gtypes

from app.platform.config import Settings

Family = Literal["gemini3", "gemini2.5", "other"]
THINKING_LEVELS = ("minimal", "low", "medium", "high")
# a 2.5 model's budget for a level when no budget is set (2.5 Pro cannot go below 128)
BUDGET_OF_LEVEL = {"minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
_MAJOR_RE = re.compile(r"^(?:models/)?gemini-(\d+)(?:\.(\d+))?")
# temperatures for families that are not Gemini 3 (the values the app used before)
LEGACY_TEMPERATURE = {"analysis": 0.2, "reply": 0.7, "judge": 0.0}


def model_family(model: str) -> Family:
    m = _MAJOR_RE.match(model.strip().lower())
    if not m:
        return "other"
    major, minor = int(m[1]), int(m[2] or 0)
    if major >= 3:
        return "gemini3"
    if (major, minor) == (2, 5):
        return "gemini2.5"
    return "other"


@dataclass(frozen=True)
class StageConfig:
    """How one stage (analysis, reply, judge) calls its model."""

    thinking_level: str = "low"
    max_output_tokens: int = 8192
    thinking_budget: Optional[int] = None  # 2.5 models; None: from the level (BUDGET_OF_LEVEL)


def generation_config(model: str, stage: str, cfg: StageConfig,
                      **extra: Any) -> gtypes.GenerateContentConfig:
    """The config for `model` at `stage`; `extra` are the stage's own fields (system
    instruction, response schema)."""
    family = model_family(model)
    fields: dict[str, Any] = dict(extra, max_output_tokens=cfg.max_output_tokens)
    if family == "gemini3":
        fields["thinking_config"] = gtypes.ThinkingConfig(
            thinking_level=gtypes.ThinkingLevel(cfg.thinking_level.upper()))
    else:
        fields["temperature"] = LEGACY_TEMPERATURE.get(stage, 0.7)
        if family == "gemini2.5":
            budget = cfg.thinking_budget
            if budget is None:
                budget = BUDGET_OF_LEVEL.get(cfg.thinking_level, 1024)
                if "pro" in model and budget < 128:
                    budget = 128
            fields["thinking_config"] = gtypes.ThinkingConfig(thinking_budget=budget)
    return gtypes.GenerateContentConfig(**fields)


def stage_configs(settings: Settings) -> dict[str, StageConfig]:
    """Settings → the three stages' configs."""
    return {
        "analysis": StageConfig(settings.gemini_analysis_thinking_level,
                                settings.gemini_analysis_max_output_tokens,
                                settings.gemini_thinking_budget),
        "reply": StageConfig(settings.gemini_reply_thinking_level,
                             settings.gemini_reply_max_output_tokens,
                             settings.gemini_thinking_budget),
        "judge": StageConfig(settings.eval_judge_thinking_level,
                             settings.eval_judge_max_output_tokens,
                             settings.gemini_thinking_budget),
    }
