"""Model usage and cost: tokens per stage of every turn, priced from the configuration.

`turn.usage` = {"analysis": {"model", "prompt_tokens", "cached_tokens", "output_tokens", ...},
"reply": {...}, ...}. Gemini's prompt count includes the cached part, so the uncached input is
prompt - cached. A stage answered by the offline rules (model "offline…") costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.platform.config import Settings
from app.reports.period import Period


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens."""

    input_per_m: float
    output_per_m: float
    cached_per_m: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "Prices":
        return cls(settings.gemini_price_input_per_m, settings.gemini_price_output_per_m,
                   settings.gemini_price_cached_per_m)


TOKENS_PER_DAY = text("""
WITH n AS (
  SELECT date(timezone(:tz, t.started_at)) AS day, coalesce(u.value->>'model', '') AS model,
    coalesce((u.value->>'prompt_tokens')::numeric, 0) AS p,
    coalesce((u.value->>'cached_tokens')::numeric, 0) AS c,
    coalesce((u.value->>'output_tokens')::numeric, 0) AS o
  FROM turns t, jsonb_each(CASE WHEN json_typeof(t.usage) = 'object' THEN t.usage::jsonb
                                ELSE '{}'::jsonb END) u
  WHERE t.started_at >= :since AND jsonb_typeof(u.value) = 'object'
)
SELECT day, sum(p), sum(least(c, p)), sum(o),
  sum(CASE WHEN model = '' OR model LIKE 'offline%' THEN 0
      ELSE ((p - least(c, p)) * :p_in + least(c, p) * :p_cached + o * :p_out) / 1000000.0 END)
FROM n GROUP BY day
""")

TURNS_PER_DAY = text("""
SELECT date(timezone(:tz, t.started_at)) AS day, count(*) FROM turns t
WHERE t.started_at >= :since GROUP BY day
""")

FALLBACKS = text("""
SELECT count(*) FILTER (WHERE t.flags ?| array['analysis_fallback', 'reply_fallback']),
       count(*) FILTER (WHERE t.brain LIKE 'offline%')
FROM turns t WHERE t.started_at >= :since AND jsonb_typeof(t.flags) = 'array'
""")


def model_usage(s: Session, period: Period, prices: Prices) -> dict[str, Any]:
    params = dict(period.params, p_in=prices.input_per_m, p_out=prices.output_per_m,
                  p_cached=prices.cached_per_m)
    turns = dict(s.execute(TURNS_PER_DAY, period.params).all())
    tokens = {day: rest for day, *rest in s.execute(TOKENS_PER_DAY, params)}
    rows = {}
    for day in set(turns) | set(tokens):
        p, c, o, cost = tokens.get(day, (0, 0, 0, 0))
        rows[day] = (int(turns.get(day, 0)), int(p or 0), int(c or 0), int(o or 0),
                     float(cost or 0))
    fallback, offline = s.execute(FALLBACKS, period.params).one()
    total = [sum(r[i] for r in rows.values()) for i in range(5)]
    return {"turns": total[0], "prompt_tokens": total[1], "cached_tokens": total[2],
            "output_tokens": total[3], "cost_usd": round(float(total[4]), 6),
            "fallback_turns": int(fallback or 0), "offline_turns": int(offline or 0),
            "prices_usd_per_m": {"input": prices.input_per_m, "output": prices.output_per_m,
                                 "cached": prices.cached_per_m},
            "per_day": _days(rows, period)}


def _days(rows: dict[date, tuple], period: Period) -> list[dict[str, Any]]:
    """Every day of the period (zeros included) so a chart has no holes."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(period.tz)
    first, last = period.since.astimezone(zone).date(), period.until.astimezone(zone).date()
    last = max([last, *rows.keys()])
    out = []
    day = first
    while day <= last:
        n, _, _, _, cost = rows.get(day, (0, 0, 0, 0, 0.0))
        out.append({"day": day.isoformat(), "turns": n, "cost_usd": round(float(cost), 6)})
        day += timedelta(days=1)
    return out
