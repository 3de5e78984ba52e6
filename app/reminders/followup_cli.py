"""`flask followup resolve`: resolve follow-up times for JSON lines read from stdin."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from app.reminders.resolver import resolve

followup = click.Group("followup", help="Follow-up time tools.")


def _resolve_line(line: str) -> dict[str, Any]:
    """One output object for one input line; raises ValueError with the reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    text, now_raw, tz = data.get("text"), data.get("now"), data.get("tz") or "Europe/Moscow"
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if not isinstance(tz, str):
        raise ValueError("'tz' must be a string")
    if not isinstance(now_raw, str):
        raise ValueError(f"bad 'now': {now_raw!r}")
    try:
        now = datetime.fromisoformat(now_raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad 'now': {now_raw!r}") from exc
    # a `now` without an offset is read as wall-clock time in `tz` (resolve() does that)
    moment = resolve(text, now, tz)
    return {"due_at": moment.isoformat() if moment else None}


@followup.command("resolve")
def resolve_command() -> None:
    """Read JSON lines {text, now, tz} from stdin, write {"due_at": ...} lines to stdout."""
    for number, line in enumerate(sys.stdin, start=1):
        line = line.lstrip("\ufeff") if number == 1 else line  # a BOM is not content
        if not line.strip():
            continue
        try:
            out = _resolve_line(line)
        except ValueError as exc:
            out = {"due_at": None, "error": str(exc)}
            click.echo(f"line {number}: {exc}", err=True)
        click.echo(json.dumps(out, ensure_ascii=False))
