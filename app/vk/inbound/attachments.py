"""What clients send besides text: VK attachments, forwarded and quoted messages, as typed objects.

`parse_attachments` turns VK's raw `attachments[]` into `Media` objects (unknown types are kept
as `Unknown`, never an error); `to_stored`/`from_stored` give the small JSON the `messages`
table keeps (no waveforms, no size lists); `notes` renders the short bracketed notes the model
and the panel read («[стикер]», «[репост: …]», «[пересланное сообщение: …]»).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, Optional, Union

log = logging.getLogger(__name__)

MAX_ITEMS = 10  # VK allows 10 attachments per message
PHOTO_TARGET_WIDTH = 1080  # enough to see a synthesizer or a screenshot; far from a 10 MB original
PHOTO_MIN_WIDTH = 320  # never the 75 px thumbnail when anything larger exists
THUMB_WIDTH = 130
PREVIEW_WORDS = 12
NOTE_CHARS = 1200
IMAGE_EXTS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
              "webp": "image/webp", "gif": "image/gif"}


@dataclass(frozen=True)
class Voice:
    duration: int = 0
    url_ogg: Optional[str] = None
    url_mp3: Optional[str] = None
    transcript: Optional[str] = None  # VK's own speech-to-text, when finished
    kind: str = "voice"


@dataclass(frozen=True)
class Photo:
    url: Optional[str] = None  # the size picked to show the model
    width: int = 0
    height: int = 0
    thumb_url: Optional[str] = None  # a small one for the panel
    kind: str = "photo"


@dataclass(frozen=True)
class Doc:
    title: str = ""
    ext: str = ""
    size: int = 0
    url: Optional[str] = None
    kind: str = "doc"

    @property
    def image_mime(self) -> Optional[str]:
        return IMAGE_EXTS.get(self.ext.lower().lstrip("."))


@dataclass(frozen=True)
class Sticker:
    kind: str = "sticker"


@dataclass(frozen=True)
class WallPost:
    text: str = ""
    kind: str = "wall"


@dataclass(frozen=True)
class Link:
    url: str = ""
    title: str = ""
    kind: str = "link"


@dataclass(frozen=True)
class Quoted:
    """A forwarded (`fwd_messages`) or quoted (`reply_message`) message: its text and notes."""

    text: str = ""
    reply: bool = False  # True: the client answers this message (a quote), not a forward
    notes: list[str] = field(default_factory=list)
    kind: str = "quoted"


@dataclass(frozen=True)
class Unknown:
    type: str = "?"
    kind: str = "other"


Media = Union[Voice, Photo, Doc, Sticker, WallPost, Link, Quoted, Unknown]
_KINDS: dict[str, type] = {"voice": Voice, "photo": Photo, "doc": Doc, "sticker": Sticker,
                           "wall": WallPost, "link": Link, "quoted": Quoted, "other": Unknown}
_OTHER_NAMES = {"video": "видео", "audio": "аудиозапись", "market": "товар", "gift": "подарок",
                "poll": "опрос", "graffiti": "граффити", "article": "статья", "call": "звонок",
                "wall_reply": "комментарий", "podcast": "подкаст", "story": "история"}


def _s(value: object, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _n(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _url(value: object) -> Optional[str]:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) \
        and len(value) <= 2000 else None


def preview(text: str, words: int = PREVIEW_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def pick_size(sizes: object, target: int = PHOTO_TARGET_WIDTH) -> Optional[dict[str, Any]]:
    """The smallest size at least `target` wide, else the largest (by width, not VK's letter)."""
    usable = [s for s in sizes if isinstance(s, dict) and _url(s.get("url"))] \
        if isinstance(sizes, list) else []
    if not usable:
        return None
    usable.sort(key=lambda s: _n(s.get("width")))
    wide = [s for s in usable if _n(s.get("width")) >= target]
    return wide[0] if wide else usable[-1]


def _photo(obj: dict[str, Any]) -> Photo:
    best = pick_size(obj.get("sizes"))
    thumb = pick_size(obj.get("sizes"), THUMB_WIDTH)
    if best is None:
        return Photo()
    return Photo(url=_url(best.get("url")), width=_n(best.get("width")),
                 height=_n(best.get("height")), thumb_url=_url((thumb or best).get("url")))


def _voice(obj: dict[str, Any]) -> Voice:
    state = obj.get("transcript_state")
    transcript = _s(obj.get("transcript"), 4000).strip() or None
    if state not in (None, "done"):
        transcript = None  # VK is still transcribing (or failed): not a transcript yet
    return Voice(duration=_n(obj.get("duration")), url_ogg=_url(obj.get("link_ogg")),
                 url_mp3=_url(obj.get("link_mp3")), transcript=transcript)


def parse_one(item: object) -> Optional[Media]:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return None
    kind = item["type"][:40]
    obj = item.get(kind)
    obj = obj if isinstance(obj, dict) else {}
    if kind == "audio_message":
        return _voice(obj)
    if kind == "photo":
        return _photo(obj)
    if kind == "doc":
        return Doc(title=_s(obj.get("title"), 200), ext=_s(obj.get("ext"), 10),
                   size=_n(obj.get("size")), url=_url(obj.get("url")))
    if kind == "sticker":
        return Sticker()
    if kind == "wall":
        return WallPost(text=preview(_s(obj.get("text"), 4000)))
    if kind == "link":
        return Link(url=_url(obj.get("url")) or "", title=_s(obj.get("title"), 200))
    if kind not in _OTHER_NAMES:
        log.info("vk.attachments unknown attachment type %r kept as a note", kind)
    return Unknown(type=kind)


def parse_attachments(value: object) -> list[Media]:
    items = value[:MAX_ITEMS] if isinstance(value, list) else []
    return [m for m in (parse_one(i) for i in items) if m is not None]


def quoted(obj: object, reply: bool) -> Optional[Quoted]:
    """A forwarded or quoted message (one level: deeper forwards become a note)."""
    if not isinstance(obj, dict):
        return None
    inner = notes(parse_attachments(obj.get("attachments")))
    if isinstance(obj.get("fwd_messages"), list) and obj["fwd_messages"]:
        inner.append("[пересланные сообщения]")
    return Quoted(text=preview(_s(obj.get("text"), 4000), 40), reply=reply, notes=inner)


def to_stored(items: list[Media]) -> list[dict[str, Any]]:
    return [asdict(m) for m in items]


def from_stored(rows: object) -> list[Media]:
    """Typed objects from the stored JSON (rows of an older shape are skipped)."""
    out: list[Media] = []
    for row in rows if isinstance(rows, list) else []:
        kind = row.get("kind") if isinstance(row, dict) else None
        cls = _KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            continue
        names = {f.name for f in dataclass_fields(cls)}
        fields = {k: v for k, v in row.items() if k in names}
        try:
            out.append(cls(**fields))
        except TypeError:
            continue
    return out


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def note(m: Media) -> str:
    if isinstance(m, Voice):
        said = f": «{m.transcript}»" if m.transcript else ""
        return f"[голосовое сообщение {_minutes(m.duration)}{said}]"
    if isinstance(m, Photo):
        return "[фото]"
    if isinstance(m, Doc):
        return f"[документ: {m.title or m.ext or 'файл'}]"
    if isinstance(m, Sticker):
        return "[стикер]"
    if isinstance(m, WallPost):
        return f"[репост: {m.text}]" if m.text else "[репост]"
    if isinstance(m, Link):
        return f"[ссылка: {m.title or m.url}]"
    if isinstance(m, Quoted):
        body = " ".join([m.text, *m.notes]).strip() or "без текста"
        return f"[{'ответ на сообщение' if m.reply else 'пересланное сообщение'}: {body}]"
    return f"[{_OTHER_NAMES.get(m.type, 'вложение: ' + m.type)}]"


def notes(items: list[Media]) -> list[str]:
    return [note(m)[:NOTE_CHARS] for m in items]


def with_notes(text: str, items: list[Media], transcribed: bool = False) -> str:
    """The message as the model and the panel read it: text plus bracketed notes. A voice note
    whose transcript is the text says so («[голосовое сообщение 0:12, расшифровка]: …»)."""
    rest = [n for m, n in zip(items, notes(items), strict=True) if not (transcribed and isinstance(m, Voice))]
    if transcribed:
        voice = next((m for m in items if isinstance(m, Voice)), Voice())
        text = f"[голосовое сообщение {_minutes(voice.duration)}, расшифровка]: {text}"
    return " ".join(p for p in [text.strip(), *rest] if p)
