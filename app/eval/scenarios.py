"""Scenario files: JSONL, one dialog a line, parsed and validated with line numbers.

    {"id": "parent-child-7", "persona": "…", "turns": ["first turn", "two\\nmessages"],
     "must": ["…"], "must_not": ["…"],
     "checks": {"contains_any": [["14 900", "14900"]], "not_contains": ["только сегодня"],
                "handed_over": true}}

A turn's lines are separate VK messages sent a moment apart (one burst). A turn may also be an
object, and a dialog may start with the client's card (a returning student):

    {"id": "back-after-a-week", "card": {"name": "Анна Смирнова",
       "purchases": [{"product": "piano-from-zero", "access_until": "2026-12-02"}]},
     "turns": ["Здравствуйте!", {"text": "вот запись", "gap_hours": 168,
               "attachments": [{"type": "voice", "file": "media/q.ogg", "seconds": 6}]}]}

`attachments` are files next to the scenario file (voice: .ogg/.mp3, optional VK `transcript`;
photo: .jpg/.png), sent with the burst's last message; `gap_hours` is the pause before the turn
(default: a minute and a half). A purchase's `access_until` (YYYY-MM-DD) sets when access ends,
`paid` (YYYY-MM-DD) when it was paid; `null` access means a product without an end.
"""
from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)
KNOWN_KEYS = frozenset({"id", "persona", "turns", "must", "must_not", "checks", "card"})
CHECK_KEYS = frozenset({"contains_any", "not_contains", "handed_over"})
TURN_KEYS = frozenset({"text", "attachments", "gap_hours"})
ATTACHMENT_KEYS = frozenset({"type", "file", "seconds", "transcript"})
CARD_KEYS = frozenset({"name", "purchases"})
PURCHASE_KEYS = frozenset({"product", "access_until", "paid"})
MEDIA_TYPES = {"voice": (".ogg", ".oga", ".mp3"), "photo": (".jpg", ".jpeg", ".png")}


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the line and the field."""


@dataclass(frozen=True)
class Checks:
    contains_any: tuple[tuple[str, ...], ...] = ()
    not_contains: Optional[tuple[str, ...]] = None  # None: not given (no check counted)
    # True: the dialog must end marked for staff with a manager alert (a person was called);
    # False: it must not; None: not checked
    handed_over: Optional[bool] = None


@dataclass(frozen=True)
class Attachment:
    kind: str  # "voice" | "photo"
    path: Path  # resolved against the scenario file's directory
    seconds: int = 5  # a voice note's duration
    transcript: Optional[str] = None  # VK's own speech-to-text, when it had finished


@dataclass(frozen=True)
class TurnExtra:
    attachments: tuple[Attachment, ...] = ()
    gap_hours: Optional[float] = None  # the pause before this turn


@dataclass(frozen=True)
class CardPurchase:
    product: str
    access_until: Optional[date] = None
    paid: Optional[date] = None


@dataclass(frozen=True)
class Card:
    name: str = ""
    purchases: tuple[CardPurchase, ...] = ()


@dataclass(frozen=True)
class Scenario:
    id: str
    turns: tuple[str, ...]
    persona: str = ""
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    checks: Checks = field(default_factory=Checks)
    card: Optional[Card] = None
    extras: tuple[TurnExtra, ...] = ()  # per turn (empty: plain text turns)

    def bursts(self) -> list[list[str]]:
        """Each turn as the list of messages sent in a row (blank lines dropped)."""
        return [[line for line in turn.split("\n") if line.strip()] for turn in self.turns]

    def extra(self, n: int) -> TurnExtra:
        return self.extras[n] if n < len(self.extras) else TurnExtra()


def _unknown_keys(obj: dict[str, object], known: frozenset[str], where: str) -> None:
    """A misspelt key (it would silently drop points or checks) is an error; any other extra
    key (a note of the scenario's author, say) is ignored with a warning."""
    for key in sorted(set(obj) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            raise ScenarioError(f"{where}: unknown key {key!r} — did you mean {close[0]!r}? "
                                f"(allowed: {', '.join(sorted(known))})")
        log.warning("%s: key %r is not part of the scenario format; ignored", where, key)


def _strings(value: object, where: str, allow_empty_list: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ScenarioError(f"{where}: expected a list of non-empty strings")
    if not value and not allow_empty_list:
        raise ScenarioError(f"{where}: must not be empty")
    return tuple(value)


def _checks(value: object, where: str) -> Checks:
    if value is None:
        return Checks()
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected an object")
    _unknown_keys(value, CHECK_KEYS, where)
    groups_raw = value.get("contains_any") or []
    if not isinstance(groups_raw, list):
        raise ScenarioError(f"{where}.contains_any: expected a list of lists of strings")
    groups = tuple(_strings([g] if isinstance(g, str) else g,
                            f"{where}.contains_any[{i}]", allow_empty_list=False)
                   for i, g in enumerate(groups_raw))
    absent = value.get("not_contains")
    handed = value.get("handed_over")
    if handed is not None and not isinstance(handed, bool):
        raise ScenarioError(f"{where}.handed_over: expected true or false")
    return Checks(contains_any=groups,
                  not_contains=None if absent is None else _strings(absent,
                                                                    f"{where}.not_contains"),
                  handed_over=handed)


def _date(value: object, where: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ScenarioError(f"{where}: expected a date YYYY-MM-DD") from exc


def _card(value: object, where: str) -> Optional[Card]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected an object")
    _unknown_keys(value, CARD_KEYS, where)
    name = value.get("name", "")
    if not isinstance(name, str):
        raise ScenarioError(f"{where}.name: expected a string")
    raw = value.get("purchases", [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}.purchases: expected a list")
    purchases = []
    for i, p in enumerate(raw):
        at = f"{where}.purchases[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("product"), str) \
                or not p["product"].strip():
            raise ScenarioError(f"{at}: needs 'product' (a product id of the KB)")
        _unknown_keys(p, PURCHASE_KEYS, at)
        purchases.append(CardPurchase(p["product"].strip(),
                                      _date(p.get("access_until"), f"{at}.access_until"),
                                      _date(p.get("paid"), f"{at}.paid")))
    return Card(name=name.strip(), purchases=tuple(purchases))


def _attachment(value: object, where: str, base: Path) -> Attachment:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected an object")
    _unknown_keys(value, ATTACHMENT_KEYS, where)
    kind, file = value.get("type"), value.get("file")
    if kind not in MEDIA_TYPES:
        raise ScenarioError(f"{where}.type: one of {', '.join(MEDIA_TYPES)}")
    if not isinstance(file, str) or not file.strip():
        raise ScenarioError(f"{where}.file: expected a file path")
    path = (base / file).resolve()
    if path.suffix.lower() not in MEDIA_TYPES[kind]:
        raise ScenarioError(f"{where}.file: a {kind} is one of {', '.join(MEDIA_TYPES[kind])}")
    if not path.is_file():
        raise ScenarioError(f"{where}.file: {file} does not exist (relative to {base})")
    seconds = value.get("seconds", 5)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise ScenarioError(f"{where}.seconds: a whole number of seconds >= 1")
    transcript = value.get("transcript")
    if transcript is not None and not isinstance(transcript, str):
        raise ScenarioError(f"{where}.transcript: expected a string")
    return Attachment(kind, path, seconds, transcript)


def _turn(value: object, where: str, base: Path) -> tuple[str, TurnExtra]:
    if isinstance(value, str) and value.strip():
        return value, TurnExtra()
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a non-empty string or an object")
    _unknown_keys(value, TURN_KEYS, where)
    text = value.get("text", "")
    if not isinstance(text, str):
        raise ScenarioError(f"{where}.text: expected a string")
    raw = value.get("attachments", [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}.attachments: expected a list")
    attachments = tuple(_attachment(a, f"{where}.attachments[{i}]", base)
                        for i, a in enumerate(raw))
    if not text.strip() and not attachments:
        raise ScenarioError(f"{where}: needs text or attachments")
    gap = value.get("gap_hours")
    if gap is not None and (not isinstance(gap, (int, float)) or isinstance(gap, bool)
                            or gap < 0 or gap > 24 * 365):
        raise ScenarioError(f"{where}.gap_hours: a number of hours from 0 to 8760")
    return text, TurnExtra(attachments, None if gap is None else float(gap))


def parse_scenario(obj: object, where: str = "scenario", base: Optional[Path] = None) -> Scenario:
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: expected a JSON object")
    _unknown_keys(obj, KNOWN_KEYS, where)
    sid = obj.get("id")
    if not isinstance(sid, str) or not sid.strip():
        raise ScenarioError(f"{where}: 'id' must be a non-empty string")
    where = f"{where} ({sid})"
    persona = obj.get("persona", "")
    if not isinstance(persona, str):
        raise ScenarioError(f"{where}.persona: expected a string")
    raw_turns = obj.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        raise ScenarioError(f"{where}.turns: expected a non-empty list of strings or objects")
    parsed = [_turn(t, f"{where}.turns[{i}]", base or Path.cwd())
              for i, t in enumerate(raw_turns)]
    extras = tuple(e for _, e in parsed)
    return Scenario(id=sid.strip(), persona=persona.strip(), turns=tuple(t for t, _ in parsed),
                    must=_strings(obj.get("must", []), f"{where}.must"),
                    must_not=_strings(obj.get("must_not", []), f"{where}.must_not"),
                    checks=_checks(obj.get("checks"), f"{where}.checks"),
                    card=_card(obj.get("card"), f"{where}.card"),
                    extras=extras if any(e != TurnExtra() for e in extras) else ())


def parse_lines(text: str, source: str = "scenarios",
                base: Optional[Path] = None) -> list[Scenario]:
    """Every non-blank line is one dialog; ids must be unique."""
    out: list[Scenario] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{where}: not valid JSON ({exc.msg})") from exc
        scenario = parse_scenario(obj, where, base)
        if scenario.id in seen:
            raise ScenarioError(f"{where}: duplicate id {scenario.id!r}")
        seen.add(scenario.id)
        out.append(scenario)
    if not out:
        raise ScenarioError(f"{source}: no scenarios")
    return out


def load_scenarios(path: str | Path) -> list[Scenario]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # a BOM (Windows Notepad) is not content
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: cannot read ({exc})") from exc
    return parse_lines(text, source=p.name, base=p.resolve().parent)
