"""Inline keyboards: the buttons code may offer, built with `vk_api.keyboard.VkKeyboard`.

A button is a `ButtonSpec`; `build` turns 1–3 of them into VK's keyboard JSON within VK's limits
(inline: ≤ 10 buttons in ≤ 6 rows, label ≤ 40 characters, payload ≤ 255). A callback press
comes back as `message_event` with our payload `{"b": "<code>"}`; `press_text` is what the
client "said" by pressing it (the turn answers that text).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from vk_api.keyboard import VkKeyboard, VkKeyboardColor

MAX_BUTTONS = 3  # ours: a reply offers at most three next steps
MAX_LABEL = 40
MAX_PAYLOAD = 255

# code -> (label, what the press means in the client's words)
CALLBACKS: dict[str, tuple[str, str]] = {
    "pick": ("Подобрать курс", "Помогите, пожалуйста, подобрать курс"),
    "prices": ("Цены на курсы", "Сколько стоят курсы?"),
    "manager": ("Позвать менеджера", "Позовите, пожалуйста, менеджера"),
}


@dataclass(frozen=True)
class ButtonSpec:
    kind: str  # callback | open_link | intent_subscribe
    label: str
    code: str = ""  # callback: a key of CALLBACKS
    link: str = ""  # open_link
    intent: str = ""  # intent_subscribe
    subscribe_id: Optional[int] = None


def callback(code: str) -> ButtonSpec:
    return ButtonSpec("callback", CALLBACKS[code][0], code=code)


def open_link(label: str, link: str) -> ButtonSpec:
    return ButtonSpec("open_link", label, link=link)


def subscribe(intent: str, subscribe_id: Optional[int], label: str) -> ButtonSpec:
    return ButtonSpec("intent_subscribe", label, intent=intent, subscribe_id=subscribe_id)


def clip_label(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1].rstrip() + "…"


def _payload(code: str) -> str:
    payload = json.dumps({"b": code}, ensure_ascii=False)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {code!r} is over {MAX_PAYLOAD} characters")
    return payload


def build(buttons: list[ButtonSpec]) -> Optional[str]:
    """Keyboard JSON for up to MAX_BUTTONS buttons, one per row; None for no buttons."""
    buttons = buttons[:MAX_BUTTONS]
    if not buttons:
        return None
    kb = VkKeyboard(inline=True)
    for i, b in enumerate(buttons):
        if i:
            kb.add_line()
        label = clip_label(b.label)
        if b.kind == "callback":
            kb.add_callback_button(label, color=VkKeyboardColor.PRIMARY if i == 0
                                   else VkKeyboardColor.SECONDARY, payload=_payload(b.code))
        elif b.kind == "open_link":
            kb.add_openlink_button(label, b.link)
        elif b.kind == "intent_subscribe":  # VkKeyboard has no helper for it: VK's raw shape
            action: dict[str, Any] = {"type": "intent_subscribe", "intent": b.intent,
                                      "label": label}
            if b.subscribe_id is not None:
                action["subscribe_id"] = b.subscribe_id
            kb.lines[-1].append({"action": action})
        else:
            raise ValueError(f"unknown button kind {b.kind!r}")
    keyboard: str = kb.get_keyboard()
    return keyboard


def press_text(payload: Optional[dict[str, Any]]) -> Optional[str]:
    """The client's words for a press of one of our callback buttons (None: not ours)."""
    code = payload.get("b") if isinstance(payload, dict) else None
    entry = CALLBACKS.get(code) if isinstance(code, str) else None
    return entry[1] if entry else None


def buttons_of(keyboard: Optional[str]) -> list[dict[str, Any]]:
    """The buttons of a stored keyboard, flat, as the local chat page shows them."""
    try:
        data = json.loads(keyboard) if keyboard else {}
    except ValueError:
        return []
    out = []
    for row in data.get("buttons") or []:
        for button in row:
            action = dict(button.get("action") or {})
            out.append({"type": action.get("type"), "label": action.get("label", ""),
                        "payload": action.get("payload"), "link": action.get("link"),
                        "intent": action.get("intent"),
                        "subscribe_id": action.get("subscribe_id")})
    return out
