"""Words shared by the brain and the stored rows (both may import the platform): the base of
every labelled state, the kinds of a turn and the flags a turn can carry.

Values equal the strings stored in the database (so a plain string compares equal); each
labelled enum has `label`, and `labels()` feeds the panel: a state without a label cannot be
added.
"""
from __future__ import annotations

from enum import StrEnum

# enum class name -> value -> Russian label; filled next to each enum
LABELS: dict[str, dict[str, str]] = {}


class Labelled(StrEnum):
    @property
    def label(self) -> str:
        return LABELS[type(self).__name__][self.value]

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {m.value: m.label for m in cls}


class TurnKind(Labelled):
    REPLY = "reply"
    REMINDER = "reminder"
    ACCESS_EXTENSION = "access_extension"
    FOLLOWUP = "followup"  # written first after a silence (reengage)


LABELS["TurnKind"] = {"reply": "ответ", "reminder": "напоминание", "access_extension": "продление",
                      "followup": "после паузы"}


class TurnFlag(StrEnum):
    """Flags stored in `turns.flags` (a JSONB array: reports filter with `@>`). Flags with a
    detail are the prefix plus the detail, e.g. `guardrail:price`, `silent:paused`."""

    KB_NO_MATCH = "kb_no_match"  # no confident KB entry for the question (the KB-gaps report)
    VOICE_UNHEARD = "voice_unheard"
    VOICE_TOO_LONG = "voice_too_long"
    MEDIA_SKIPPED = "media_skipped"
    ANALYSIS_FALLBACK = "analysis_fallback"
    REPLY_FALLBACK = "reply_fallback"
    GAVE_UP = "gave_up"
    HANDOFF_PROMISE = "handoff:promise"  # the reply promised a person nobody had called yet
    GUARDRAIL = "guardrail:"  # + the guardrail's name
    EFFECT_ERROR = "effect_error:"  # + the effect's name
    SILENT = "silent:"  # + the reason the reply was held back

    def detail(self, what: str) -> str:
        """A prefixed flag with its detail (`TurnFlag.SILENT.detail("paused")`)."""
        return f"{self.value}{what}"
