"""Hard checks in code on all of the assistant's messages of a dialog (lower-cased).

Each `contains_any` group passes when at least one of its strings is present; `not_contains`,
when given, is one more check that passes when none of its strings is present; `handed_over`,
when given, passes when the dialog ended marked for staff with a manager alert (true) or not
(false). A string of
digits and spaces matches only as a whole number: «9 900» is not found in «29 900», nor «490»
in «1 490» (thousands written with a space are one number).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from app.eval.scenarios import Checks

_NUMBER_RE = re.compile(r"^\d[\d ]*$")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})


@dataclass
class CheckResult:
    passed: int = 0
    total: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "failed": list(self.failed)}


def normalize(text: str) -> str:
    """Lower-cased, with no-break and thin spaces read as plain spaces."""
    return (text or "").translate(_SPACES).lower()


def _is_number(needle: str) -> bool:
    return bool(_NUMBER_RE.match(needle)) and any(c.isdigit() for c in needle)


def _joins_before(text: str, start: int) -> bool:
    """The match continues a number on its left: a digit, or a 1–3 digit group and a space."""
    if start > 0 and text[start - 1].isdigit():
        return True
    if start < 2 or text[start - 1] != " " or not text[start - 2].isdigit():
        return False
    i = start - 2
    while i >= 0 and text[i].isdigit():
        i -= 1
    return start - 2 - i <= 3


def _joins_after(text: str, end: int) -> bool:
    """The match continues on its right: a digit, or a space and exactly three digits."""
    if end < len(text) and text[end].isdigit():
        return True
    group = text[end + 1:end + 4]
    return (end < len(text) and text[end] == " " and len(group) == 3 and group.isdigit()
            and not (end + 4 < len(text) and text[end + 4].isdigit()))


def contains(text: str, needle: str) -> bool:
    """`needle` in `text` by the rules above (both normalized here)."""
    text, needle = normalize(text), normalize(needle).strip()
    if not needle:
        return False
    if not _is_number(needle):
        return needle in text
    needle = re.sub(r" +", " ", needle)
    for m in re.finditer(re.escape(needle), text):
        if not _joins_before(text, m.start()) and not _joins_after(text, m.end()):
            return True
    return False


def run_checks(checks: Checks, assistant_texts: Iterable[str],
               handed_over: Optional[bool] = None) -> CheckResult:
    text = "\n".join(normalize(t) for t in assistant_texts)
    result = CheckResult()
    for group in checks.contains_any:
        result.total += 1
        if any(contains(text, s) for s in group):
            result.passed += 1
        else:
            result.failed.append("contains_any: " + " | ".join(f"«{s}»" for s in group))
    if checks.not_contains is not None:
        result.total += 1
        present = [s for s in checks.not_contains if contains(text, s)]
        if present:
            result.failed.append("not_contains: " + ", ".join(f"«{s}»" for s in present))
        else:
            result.passed += 1
    if checks.handed_over is not None:
        result.total += 1
        if handed_over is checks.handed_over:
            result.passed += 1
        else:
            result.failed.append("handed_over: " + ("no person was called" if checks.handed_over
                                                    else "a person was called"))
    return result
