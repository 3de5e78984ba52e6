"""The Gemini provider of the brain (google-genai): the two stages and the eval lab's judge."""
from app.brain.gemini.brain import GeminiBrain
from app.brain.gemini.judge import GeminiJudge, JudgeRequest, Point, Verdict

__all__ = ["GeminiBrain", "GeminiJudge", "JudgeRequest", "Point", "Verdict"]
