"""A discount the client demands is never granted (pure; used by the offline brain and by the
pipeline before the sales policy decides).

The school's discounts help a client who has chosen a product and whose blocker is the price;
they are not a prize for insisting. A demand is the client asking for a discount or a promo code
for themselves: an imperative («дайте скидку», «сгенерируй промокод»), a percent they name, a
threat («иначе не куплю»). A question about the school's rules («есть ли скидки?») is not one.
"""
from __future__ import annotations

import re

DEMAND_RE = re.compile(
    r"(?:дайте|дай|сделайте|сделай|скиньте|скинь|давайте|гоните|выдайте|сгенерируй\w*|"
    r"пришлите|хочу|нужн\w*|требую|можно|а можно|жду)\s+(?:\S+\s+){0,3}?"
    r"(?:скидк\w*|промо-?код\w*|купон\w*|\d{1,3}\s*%)|"
    r"(?:скидк\w*|промо-?код\w*)\s+(?:\S+\s+){0,2}?(?:на\s+)?\d{1,3}\s*(?:%|процент)|"
    r"\d{1,3}\s*%\s*(?:скидк|или|иначе)|иначе не (?:куплю|возьму|буду)|"
    r"(?:хотя бы|ну хоть)\s+\d{1,3}\s*%", re.I)


def demands_discount(text: str) -> bool:
    """The client's words demand a discount or a promo code for themselves."""
    return bool(DEMAND_RE.search(text or ""))
