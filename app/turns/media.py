"""Loading the burst's files for the model (after the database session, before the brain).

Voice notes (ogg) and images (photos, png/jpg documents) are downloaded bounded
(`app.vk.media`); what cannot be given to the model is named in `ctx.unheard_voice` (voice) or
simply stays a bracketed note (images), with a log line and a turn flag for staff. A failed
download never fails the turn: the text part is still answered.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.brain.contract import MediaPart, TurnContext
from app.models import TurnFlag
from app.turns.context import DialogState
from app.vk.inbound.attachments import Doc, Photo, Voice
from app.vk.media import MediaError, MediaLimits, fetch

if TYPE_CHECKING:
    from app.turns.runner import TurnRunner

log = logging.getLogger(__name__)
MAX_PARTS = 6
MAX_TOTAL_BYTES = 18_000_000  # Gemini's inline request limit is 20 MB


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def load_media(tr: TurnRunner, ctx: TurnContext, state: DialogState) -> list[str]:
    """Fill `ctx.media` / `ctx.unheard_voice`; returns flags for the turn."""
    limits = MediaLimits.of(tr.cfg)
    flags: list[str] = []
    total = 0
    if not tr.cfg.gemini_configured:  # the offline rules can neither hear nor see
        ctx.unheard_voice += [f"голосовое сообщение {_minutes(i.duration)}: нет модели"
                              for _, _, i in state.media_refs if isinstance(i, Voice)]
        return flags
    for message_id, alone, item in state.media_refs:
        if isinstance(item, Voice):
            label = f"голосовое сообщение {_minutes(item.duration)}"
            if item.duration > tr.cfg.voice_max_seconds:
                ctx.unheard_voice.append(f"{label}: слишком длинное")
                flags.append(TurnFlag.VOICE_TOO_LONG)
                continue
            url, mime, kind = item.url_ogg or item.url_mp3, \
                "audio/ogg" if item.url_ogg else "audio/mpeg", "voice"
        elif isinstance(item, Photo):
            url, mime, kind, label = item.url, "image/jpeg", "image", "фото"
        elif isinstance(item, Doc) and item.image_mime:
            url, mime, kind, label = item.url, item.image_mime, "image", f"картинка {item.title}"
        else:
            continue  # stickers, reposts, other documents: the bracketed note is enough
        if len(ctx.media) >= MAX_PARTS:
            flags.append(TurnFlag.MEDIA_SKIPPED)
            continue
        try:
            data = fetch(url, limits)
        except MediaError as exc:
            log.warning("turn %s: %s of message %s not loaded: %s", ctx.turn_id, label,
                        message_id, exc)
            too_big = "over the limit" in str(exc)
            flags.append("voice_too_long" if too_big and kind == "voice" else f"media_failed:{kind}")
            if kind == "voice":
                ctx.unheard_voice.append(f"{label}: " + ("слишком длинное" if too_big
                                                          else "не удалось загрузить"))
            continue
        if total + len(data) > MAX_TOTAL_BYTES:
            flags.append("media_skipped")
            if kind == "voice":
                ctx.unheard_voice.append(f"{label}: слишком большое")
            continue
        total += len(data)
        ctx.media.append(MediaPart(kind, mime, data, label,  # type: ignore[arg-type]
                                   message_id if alone else 0))
    return flags
