"""A scripted Gemini for whole-pipeline tests: the analysis and the reply from two queues,
served by the real HTTP stand-in (`gemini_server`). The fixtures `gemini`, `model` and `gapp`
in tests/conftest.py build on it."""
from __future__ import annotations

import json
from typing import Any

from tests.fakes.gemini_server import RecordedRequest, text_response


def analysis(**over: Any) -> dict:
    base = {"psych_state": "спокойна, интересуется", "mood": "позитивное", "funnel_stage": "warm",
            "intent": "узнать о курсах", "short_term_strategy": "ответить на вопрос",
            "long_term_strategy": "помочь выбрать курс", "facts": {}, "follow_up": {"agreed": False},
            "kb_ids": [], "offer": None, "escalate": {"needed": False, "reason": ""},
            "reply_plan": "коротко и тепло"}
    base.update(over)
    return base


class ScriptedModel:
    """Answers analysis requests (they carry a JSON schema) and reply requests from two queues."""

    def __init__(self) -> None:
        self.analyses: list[dict] = []
        self.replies: list[Any] = []

    def __call__(self, req: RecordedRequest) -> tuple[int, dict]:
        cfg = req.generation_config
        is_analysis = bool(cfg.get("responseJsonSchema") or cfg.get("responseSchema")
                           or cfg.get("responseMimeType") == "application/json")
        if is_analysis:
            return text_response(json.dumps(self.analyses.pop(0) if self.analyses else analysis(),
                                            ensure_ascii=False))
        item = self.replies.pop(0) if self.replies else "Спасибо, что написали! Чем могу помочь?"
        return item if isinstance(item, tuple) else text_response(item)
