"""Model usage and cost: tokens per stage of every turn, each stage priced by the model that answered.

`turn.usage` = {"analysis": {"model", "model_version", "prompt_tokens", "cached_tokens",
"output_tokens", "thinking_tokens", ...}, "reply": {...}, ...}. Gemini's prompt count includes the
cached part, so the uncached input is prompt - cached; thinking tokens are billed as output. A
stage is priced by the `model_version` the response reported (Google routes retired ids to other
models and bills their rates), else by the configured `model`, from PRICE_TABLE. A stage answered
by the offline rules (model "offline…") costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Optional

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.platform.config import Settings
from app.reports.period import Period

# When the table below was checked against Google's pricing page
# (https://ai.google.dev/gemini-api/docs/pricing, paid tier, prompts <= 200k tokens).
PRICES_CHECKED = "2026-12-07"
FALLBACK_MODEL = "gemini-3.8-flash"  # how a model missing from the table is priced


@dataclass(frozen=True)
class Rate:
    """USD per 1M tokens."""

    input_per_m: float
    output_per_m: float  # thinking tokens included
    cached_per_m: float
    until: Optional[date] = None  # last day this rate applies (a promotional price)

    def as_dict(self) -> dict[str, float]:
        return {"input": self.input_per_m, "output": self.output_per_m,
                "cached": self.cached_per_m}


# model id → its rates, oldest period first. Cached input ≈ 10 % of input.
PRICE_TABLE: dict[str, tuple[Rate, ...]] = {
    "gemini-3.8-flash": (Rate(0.75, 3.75, 0.075, until=date(2026, 12, 31)),
                         Rate(1.50, 7.50, 0.15)),
    "gemini-3.5-flash": (Rate(1.50, 9.00, 0.15),),
    "gemini-3.5-flash-lite": (Rate(0.30, 2.50, 0.03),),
    "gemini-3.1-pro-preview": (Rate(2.00, 12.00, 0.20),),
    # retired 2026-12-01 (requests are routed and billed as another model: see model_version)
    "gemini-2.5-flash": (Rate(0.30, 2.50, 0.03),),
    "gemini-2.5-flash-lite": (Rate(0.10, 0.40, 0.01),),
    "gemini-2.5-pro": (Rate(1.25, 10.00, 0.125),),
}


def table_key(model: str) -> Optional[str]:
    """The table's id for a model name or reported version ("models/gemini-3.5-flash-001" →
    "gemini-3.5-flash"): the longest id it starts with."""
    name = (model or "").strip().lower().removeprefix("models/")
    best = None
    for key in PRICE_TABLE:
        if (name == key or name.startswith(key + "-")) and (best is None or len(key) > len(best)):
            if name != key and name[len(key) + 1:].split("-")[0] in ("lite", "pro"):
                continue  # "gemini-3.5-flash-lite" is not "gemini-3.5-flash"
            best = key
    return best


@dataclass
class Prices:
    """The table, or one set of prices for every model (GEMINI_PRICE_* set)."""

    override: Optional[Rate] = None
    table: dict[str, tuple[Rate, ...]] = field(default_factory=lambda: dict(PRICE_TABLE))

    @classmethod
    def from_settings(cls, settings: Settings) -> "Prices":
        given = (settings.gemini_price_input_per_m, settings.gemini_price_output_per_m,
                 settings.gemini_price_cached_per_m)
        if all(v is None for v in given):
            return cls()
        base = PRICE_TABLE[FALLBACK_MODEL][-1]
        i, o, c = given
        return cls(override=Rate(base.input_per_m if i is None else i,
                                 base.output_per_m if o is None else o,
                                 base.cached_per_m if c is None else c))

    def priced_as(self, model: str, version: str) -> Optional[str]:
        """The table id a stage is priced as; None when neither name is in the table."""
        return table_key(version) or table_key(model)

    def rate(self, key: Optional[str], day: date) -> Rate:
        if self.override is not None:
            return self.override
        rates = self.table.get(key or FALLBACK_MODEL) or self.table[FALLBACK_MODEL]
        return next((r for r in rates if r.until is None or day <= r.until), rates[-1])


TOKENS_PER_DAY = text("""
SELECT date(timezone(:tz, t.started_at)) AS day, coalesce(u.value->>'model', '') AS model,
  coalesce(u.value->>'model_version', '') AS version,
  sum(coalesce((u.value->>'prompt_tokens')::numeric, 0)) AS p,
  sum(least(coalesce((u.value->>'cached_tokens')::numeric, 0),
            coalesce((u.value->>'prompt_tokens')::numeric, 0))) AS c,
  sum(coalesce((u.value->>'output_tokens')::numeric, 0)) AS o,
  sum(coalesce((u.value->>'thinking_tokens')::numeric, 0)) AS th
FROM turns t, jsonb_each(CASE WHEN json_typeof(t.usage) = 'object' THEN t.usage::jsonb
                              ELSE '{}'::jsonb END) u
WHERE t.started_at >= :since AND jsonb_typeof(u.value) = 'object'
GROUP BY 1, 2, 3
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
    turns: dict[date, int] = {day: n for day, n in s.execute(TURNS_PER_DAY, period.params)}
    rows: dict[date, list[Any]] = {}  # day → [turns, prompt, cached, output+thinking, cost]
    thinking = 0
    by_model: dict[str, dict[str, Any]] = {}
    unpriced: set[str] = set()
    for day, model, version, p, c, o, th in s.execute(TOKENS_PER_DAY, period.params):
        p, c, o, th = int(p or 0), int(c or 0), int(o or 0), int(th or 0)
        row = rows.setdefault(day, [0, 0, 0, 0, 0.0])
        row[1] += p
        row[2] += c
        row[3] += o + th
        thinking += th
        if model == "" or model.startswith("offline"):
            continue
        key = prices.priced_as(model, version)
        if key is None:
            unpriced |= {version or model}
        rate = prices.rate(key, day)
        cost = ((p - c) * rate.input_per_m + c * rate.cached_per_m
                + (o + th) * rate.output_per_m) / 1_000_000
        row[4] += cost
        name = key or FALLBACK_MODEL
        m = by_model.setdefault(name, {"prompt_tokens": 0, "cached_tokens": 0,
                                       "output_tokens": 0, "thinking_tokens": 0,
                                       "cost_usd": 0.0, "usd_per_m": rate.as_dict()})
        m["prompt_tokens"] += p
        m["cached_tokens"] += c
        m["output_tokens"] += o + th
        m["thinking_tokens"] += th
        m["cost_usd"] += cost
    for day, n in turns.items():
        rows.setdefault(day, [0, 0, 0, 0, 0.0])[0] = int(n)
    fallback, offline = s.execute(FALLBACKS, period.params).one()
    total = [sum(r[i] for r in rows.values()) for i in range(5)]
    for m in by_model.values():
        m["cost_usd"] = round(m["cost_usd"], 6)
    return {"turns": total[0], "prompt_tokens": total[1], "cached_tokens": total[2],
            "output_tokens": total[3], "thinking_tokens": thinking,
            "cost_usd": round(float(total[4]), 6),
            "fallback_turns": int(fallback or 0), "offline_turns": int(offline or 0),
            "by_model": dict(sorted(by_model.items())),
            "unpriced_models": sorted(unpriced),  # priced as FALLBACK_MODEL (or the override)
            "prices": {"checked": PRICES_CHECKED, "fallback": FALLBACK_MODEL,
                       "source": ("GEMINI_PRICE_*" if prices.override is not None
                                  else "table per model id"),
                       "override_usd_per_m": (prices.override.as_dict()
                                              if prices.override is not None else None)},
            "per_day": _days(rows, period)}


def _days(rows: dict[date, list[Any]], period: Period) -> list[dict[str, Any]]:
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
