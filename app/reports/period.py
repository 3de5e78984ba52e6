"""The reporting period: the last N days up to now, and the settings the figures depend on."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_DAYS = 3660


class PeriodError(ValueError):
    """A period the report cannot cover (zero or negative days, absurdly long)."""


@dataclass(frozen=True)
class Period:
    days: int
    since: datetime
    until: datetime  # "now"; rows stamped later (clock skew) still count: no upper bound
    tz: str
    attribution_days: int

    @property
    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "tz": self.tz,
                "window_days": self.attribution_days}

    def as_json(self) -> dict[str, Any]:
        return {"days": self.days, "since": self.since.isoformat(),
                "until": self.until.isoformat(), "timezone": self.tz,
                "attribution_days": self.attribution_days}


def make_period(days: int, now: datetime, tz: str, attribution_days: int = 30) -> Period:
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise PeriodError(f"--days must be a whole number of days >= 1, got {days!r}")
    if days > MAX_DAYS:
        raise PeriodError(f"--days must be at most {MAX_DAYS}, got {days}")
    return Period(days=days, since=now - timedelta(days=days), until=now, tz=tz,
                  attribution_days=attribution_days)
