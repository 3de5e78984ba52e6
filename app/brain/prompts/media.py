"""What the prompt says about the client's files and missed agreements (both model stages).

Kept apart from `prompting` so the media and VK-window parts stay small and separate."""
from __future__ import annotations

from app.brain.contract import TurnContext


def media_note(ctx: TurnContext, stage: str) -> str:
    lines: list[str] = []
    given = [m for m in ctx.media if stage == "analysis" or m.kind == "image"]
    if given:
        names = "; ".join(f"{i}) {m.label}" for i, m in enumerate(given, 1))
        lines.append(f"К запросу приложены файлы клиента, по порядку: {names}.")
        if stage == "analysis" and any(m.kind == "voice" for m in given):
            lines.append("Прослушай голосовое сообщение и запиши в поле transcript его дословную "
                         "расшифровку; отвечай на то, что клиент сказал.")
        if any(m.kind == "image" for m in given):
            lines.append("Посмотри на изображения: ответ должен учитывать, что на них видно.")
    for item in ctx.unheard_voice:
        lines.append(f"Голосовое сообщение не прослушано ({item}). Честно скажи клиенту, что "
                     "сейчас не получается его прослушать, и попроси записать короче или "
                     "написать текстом.")
    if ctx.missed_agreements:
        lines.append("Школа обещала написать клиенту, но ВКонтакте не пропустил сообщение "
                     "(клиент давно не писал): " + "; ".join(ctx.missed_agreements)
                     + ". Коротко извинись, что не написали, как договаривались, и продолжи "
                     "разговор с того места.")
    return "\n".join(lines)
