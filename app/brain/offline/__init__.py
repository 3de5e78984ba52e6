"""The offline rule-based brain: answers from the KB when no model is configured or it fails."""
from app.brain.offline.brain import OfflineBrain
from app.brain.offline.media import voice_unheard

__all__ = ["OfflineBrain", "voice_unheard"]
