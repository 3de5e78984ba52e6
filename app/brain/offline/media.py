"""The offline brain's words for what is not plain text: voice notes it cannot hear, pictures,
a sticker sent alone, an agreement VK did not let the school keep. Deterministic, warm, honest."""
from __future__ import annotations

from typing import Optional

from app.brain.contract import TurnContext

TOO_LONG = "слишком длинное"
VOICE_WITH_TEXT = ("Голосовое сообщение, к сожалению, сейчас прослушать не могу — если в нём было "
                   "что-то ещё, напишите, пожалуйста, текстом.")


def _pick(options: tuple[str, ...], turn_id: int) -> str:
    return options[turn_id % len(options)]


def voice_unheard(ctx: TurnContext) -> bool:
    """A voice note in the burst that no one transcribed: not given to a model (too long, no
    model, failed download), or given but no transcript came back (the model failed)."""
    heard = any("[расшифровка голосового сообщения]" in m.text for m in ctx.new_messages)
    given = any(m.kind == "voice" for m in ctx.media)
    return bool(ctx.unheard_voice) or (given and not heard)


def voice_text(ctx: TurnContext) -> str:
    if any(TOO_LONG in v for v in ctx.unheard_voice):
        return ("Спасибо за голосовое! Оно получилось длинным, и целиком я его сейчас прослушать "
                "не могу. Запишите, пожалуйста, покороче или напишите главное текстом — "
                "я сразу отвечу.")
    return _pick(("Спасибо за голосовое сообщение! К сожалению, прямо сейчас я не могу его "
                  "прослушать. Напишите, пожалуйста, текстом — я сразу отвечу.",
                  "Вижу ваше голосовое, спасибо! Сейчас, к сожалению, не получается его "
                  "прослушать — напишите, пожалуйста, вопрос текстом, и я помогу."), ctx.turn_id)


def lead(ctx: TurnContext) -> Optional[str]:
    """A sentence that opens the reply (or None): pictures and missed agreements."""
    parts = []
    if ctx.missed_agreements:
        parts.append("Простите, что мы не написали вам, как договаривались, — "
                     "сообщение не дошло.")
    if {"photo", "doc"} & set(ctx.inbound_kinds) and "image" in {m.kind for m in ctx.media} \
            or "photo" in ctx.inbound_kinds:
        parts.append(_pick(("Спасибо за фото!", "Фото получено, спасибо!"), ctx.turn_id))
    return " ".join(parts) or None


def only_media(ctx: TurnContext) -> Optional[str]:
    """The whole reply when the burst has no words of the client at all, else None."""
    if ctx.plain_text.strip():
        return None
    kinds = set(ctx.inbound_kinds)
    if "photo" in kinds or ("doc" in kinds and ctx.media):
        return "Подскажите, пожалуйста, что бы вы хотели узнать?"
    if kinds and kinds <= {"sticker"}:
        return _pick(("Спасибо, что написали! Чем могу помочь?", "Спасибо, приятно! Подсказать что-нибудь "
                      "о занятиях?"), ctx.turn_id)
    return None
