"""Scenario files: JSONL, one dialog a line, parsed and validated with line numbers.

    {"id": "parent-child-7", "persona": "…", "turns": ["first turn", "two\\nmessages"],
     "must": ["…"], "must_not": ["…"],
     "checks": {"contains_any": [["14 900", "14900"]], "not_contains": ["только сегодня"],
                "handed_over": true}}

A turn's lines are separate VK messages sent a moment apart (one burst).
"""
from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)
KNOWN_KEYS = frozenset({"id", "persona", "turns", "must", "must_not", "checks"})
CHECK_KEYS = frozenset({"contains_any", "not_contains", "handed_over"})


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
class Scenario:
    id: str
    turns: tuple[str, ...]
    persona: str = ""
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    checks: Checks = field(default_factory=Checks)

    def bursts(self) -> list[list[str]]:
        """Each turn as the list of messages sent in a row (blank lines dropped)."""
        return [[line for line in turn.split("\n") if line.strip()] for turn in self.turns]


def _unknown_keys(obj: dict, known: frozenset[str], where: str) -> None:
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


def parse_scenario(obj: object, where: str = "scenario") -> Scenario:
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
    turns = _strings(obj.get("turns"), f"{where}.turns", allow_empty_list=False)
    return Scenario(id=sid.strip(), persona=persona.strip(), turns=turns,
                    must=_strings(obj.get("must", []), f"{where}.must"),
                    must_not=_strings(obj.get("must_not", []), f"{where}.must_not"),
                    checks=_checks(obj.get("checks"), f"{where}.checks"))


def parse_lines(text: str, source: str = "scenarios") -> list[Scenario]:
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
        scenario = parse_scenario(obj, where)
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
    return parse_lines(text, source=p.name)
