"""The Gemini provider of the brain (google-genai): the two stages and the eval lab's judge."""
from app.brain.gemini.brain import GeminiBrain

__all__ = ["GeminiBrain"]
