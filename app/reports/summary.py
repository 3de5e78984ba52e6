"""`report summary`: every section for one period, as one JSON-ready dict."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.knowledge.base import KnowledgeBaseError, load_kb
from app.reports.escalations import escalations
from app.reports.followups import followups
from app.reports.funnel import funnel
from app.reports.kb_gaps import kb_gaps
from app.reports.model_cost import Prices, model_usage
from app.reports.offers import offers
from app.reports.period import Period, make_period
from app.reports.reminders import reminders
from app.reports.revenue import revenue

_READ_ONLY = text("SET TRANSACTION READ ONLY")  # the first statement: a report never writes


def period_for(svc: Any, days: int) -> Period:
    """Raises PeriodError for days < 1."""
    return make_period(days, svc.clock.now(), svc.settings.school_timezone,
                       svc.settings.report_attribution_days)


def build_summary(s: Session, period: Period, kb: Any, prices: Prices) -> dict[str, Any]:
    s.execute(_READ_ONLY)
    return {"period": period.as_json(),
            "funnel": funnel(s, period),
            "revenue": revenue(s, period),
            "offers": offers(s, period, kb),
            "reminders": reminders(s, period),
            "followups": followups(s, period),
            "escalations": escalations(s, period),
            "model": model_usage(s, period, prices),
            "kb_gaps": kb_gaps(s, period)}


def price_list(svc: Any) -> Any:
    """The KB for list prices: the loaded one, else the file parsed without building the search
    index (CLI runs load lazily); None when the file is broken (forgone falls back to amounts)."""
    if svc.kb_store.loaded:
        return svc.kb_store.current
    try:
        return load_kb(svc.settings.knowledge_base_path)
    except KnowledgeBaseError:
        return None


def summary_for(svc: Any, days: int) -> dict[str, Any]:
    period = period_for(svc, days)
    kb = price_list(svc)
    with svc.db.session() as s:
        return build_summary(s, period, kb, Prices.from_settings(svc.settings))
