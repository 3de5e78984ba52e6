"""The Gemini provider of the brain (google-genai): the two stages and the eval lab's judge."""
from app.brain.gemini.brain import GeminiBrain
from app.brain.gemini.config import StageConfig, stage_configs
from app.brain.gemini.judge import NO_PLACE, GeminiJudge, JudgeRequest, Point, Verdict

__all__ = ["NO_PLACE", "GeminiBrain", "GeminiJudge", "JudgeRequest", "Point", "StageConfig",
           "Verdict", "stage_configs"]
