"""The owner's numbers on the dashboard: the `report summary` data and its SVG charts."""
from __future__ import annotations

from datetime import date
from typing import Any, Optional

from markupsafe import Markup

from app.reports.svg import columns, hbars

PERIODS = (7, 30, 90, 365)
STAGE_ORDER = ("cold", "warm", "hot", "client", "returning")
REMINDER_ROWS = (("planned", "запланировано"), ("sent", "отправлено"),
                 ("skipped", "пропущено"), ("refused", "отказ VK"),
                 ("cancelled", "отменено"), ("pending", "ждут"))


def parse_days(raw: Optional[str]) -> int:
    """The `days` query argument (default 30); ValueError with a Russian message if bad."""
    if raw in (None, ""):
        return 30
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise ValueError("Период — это целое число дней, например 30.") from None
    if days < 1 or days > 3660:
        raise ValueError("Период должен быть от 1 до 3660 дней.")
    return days


def owner_view(r: dict[str, Any], days: int, stage_labels: dict[str, str]) -> dict[str, Any]:
    """The dashboard's owner section from `summary_for`'s result."""
    return {"r": r, "days": days, "periods": PERIODS, "charts": _charts(r, stage_labels)}


def _charts(r: dict[str, Any], stage_labels: dict[str, str]) -> dict[str, Markup]:
    f, rev, rem, m = r["funnel"], r["revenue"], r["reminders"], r["model"]
    funnel_rows = [("писали в период", f["clients_in_dialogs"])]
    funnel_rows += [(f"сейчас {stage_labels.get(k, k)}", f["by_stage"].get(k, 0))
                    for k in STAGE_ORDER]
    funnel_rows.append(("стали клиентами", f["became_clients"]))
    cost_points = [(date.fromisoformat(d["day"]).strftime("%d.%m"), d["cost_usd"])
                   for d in m["per_day"]]
    return {
        "funnel": hbars(funnel_rows, "chart-funnel"),
        "revenue": hbars([("всего", rev["total_rub"]), ("после диалога", rev["after_dialog_rub"])],
                         "chart-revenue", unit=" ₽"),
        "reminders": hbars([(label, rem[key]) for key, label in REMINDER_ROWS]
                           + [("ответили ≤ 48 ч", rem["clients_answered_48h"])],
                           "chart-reminders"),
        "cost": columns(cost_points, "chart-cost", unit=" $"),
    }
