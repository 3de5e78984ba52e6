"""`report summary`: every section for one period, as one JSON-ready dict."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.knowledge.base import KnowledgeBase, KnowledgeBaseError, KnowledgeStore, load_kb
from app.platform.config import Settings
from app.platform.db import Database
from app.reports.escalations import escalations
from app.reports.funnel import funnel
from app.reports.kb_gaps import kb_gaps
from app.reports.model_cost import Prices, model_usage
from app.reports.offers import offers
from app.reports.period import Period, make_period
from app.reports.reminders import reminders
from app.reports.revenue import revenue

_READ_ONLY = text("SET TRANSACTION READ ONLY")  # the first statement: a report never writes


@dataclass(frozen=True)
class ReportSettings:
    """The settings the owner's numbers read."""

    school_timezone: str
    attribution_days: int
    knowledge_base_path: str
    prices: Prices

    @classmethod
    def of(cls, settings: Settings) -> "ReportSettings":
        return cls(settings.school_timezone, settings.report_attribution_days,
                   settings.knowledge_base_path, Prices.from_settings(settings))


def period_for(now: datetime, cfg: ReportSettings, days: int) -> Period:
    """Raises PeriodError for days < 1."""
    return make_period(days, now, cfg.school_timezone, cfg.attribution_days)


def build_summary(s: Session, period: Period, kb: Optional[KnowledgeBase], prices: Prices) -> dict[str, Any]:
    s.execute(_READ_ONLY)
    return {"period": period.as_json(),
            "funnel": funnel(s, period),
            "revenue": revenue(s, period),
            "offers": offers(s, period, kb),
            "reminders": reminders(s, period),
            "escalations": escalations(s, period),
            "model": model_usage(s, period, prices),
            "kb_gaps": kb_gaps(s, period)}


def price_list(kb_store: KnowledgeStore, path: str) -> Optional[KnowledgeBase]:
    """The KB for list prices: the loaded one, else the file parsed without building the search
    index (CLI runs load lazily); None when the file is broken (forgone falls back to amounts)."""
    if kb_store.loaded:
        return kb_store.current
    try:
        return load_kb(path)
    except KnowledgeBaseError:
        return None


def summary_for(db: Database, now: datetime, cfg: ReportSettings, kb_store: KnowledgeStore,
                days: int) -> dict[str, Any]:
    period = period_for(now, cfg, days)
    kb = price_list(kb_store, cfg.knowledge_base_path)
    with db.session() as s:
        return build_summary(s, period, kb, cfg.prices)
