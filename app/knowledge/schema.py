"""Pydantic v2 models for knowledge_base.json (see /work/shared/specs/knowledge-base.md).

Every model forbids unknown fields, so a typo in a field name is refused instead of being
silently ignored. New fields may only be added as optional ones, so that existing files stay
valid after an upgrade. Cross-entry rules (unique ids, the discount cap) are checked on the raw
data in ``base.py`` so that they are reported together with field errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

KINDS = ("course", "bundle", "subscription", "consultation")
LEVELS = ("beginner", "intermediate", "advanced", "any")

Kind = Literal["course", "bundle", "subscription", "consultation"]
Level = Literal["beginner", "intermediate", "advanced", "any"]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
Percent = Annotated[StrictInt, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError("must contain only lowercase latin letters, digits and single dashes")
    return value


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Id = Annotated[StrictStr, AfterValidator(_check_id)]
Text = Annotated[StrictStr, AfterValidator(_check_text)]
NotOffered = Annotated[StrictStr, AfterValidator(_check_text), Field(max_length=200)]


class WorkingHours(_Model):
    start: StrictStr
    end: StrictStr

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        if not TIME_RE.match(value):
            raise ValueError('must be a time "HH:MM", e.g. "09:00"')
        return value

    @model_validator(mode="after")
    def _order(self) -> "WorkingHours":
        if self.start >= self.end:
            raise ValueError("start must be earlier than end")
        return self

    def minutes(self) -> tuple[int, int]:
        """(start, end) as minutes since midnight."""
        def conv(hhmm: str) -> int:
            h, m = hhmm.split(":")
            return int(h) * 60 + int(m)
        return conv(self.start), conv(self.end)


class School(_Model):
    name: Text
    timezone: StrictStr = "Europe/Moscow"
    working_hours: WorkingHours
    manager_contact: Text
    after_payment: StrictStr = ""  # the thank-you's next step: how access arrives, where to start

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{value}" (expected e.g. "Europe/Moscow")') from None
        return value


class Extension(_Model):
    price_rub: PositiveInt
    days: PositiveInt


class Product(_Model):
    id: Id
    title: Text
    kind: Kind
    level: Level = "any"
    summary: StrictStr = ""
    description: StrictStr = ""
    price_rub: PositiveInt
    access_days: PositiveInt | None = None
    extension: Extension | None = None
    includes: list[Text] = []
    suits: list[Text] = []
    url: StrictStr | None = None
    after_payment: StrictStr = ""  # this product's next step after payment (else the school's)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def lifetime(self) -> bool:
        return self.access_days is None


class FaqEntry(_Model):
    id: Id
    question: Text
    answer: Text
    alt_questions: list[Text] = []
    tags: list[Text] = []


class OfferConditions(_Model):
    """Optional machine-checked conditions of an offer (`when` is the human wording)."""

    stages: list[Literal["cold", "warm", "hot", "client", "returning"]] | None = None
    new_clients_only: StrictBool = False
    products: list[Id] | None = None  # the offer applies only to these products
    min_purchases: Annotated[StrictInt, Field(ge=0)] | None = None  # distinct products bought
    staff_only: StrictBool = False  # a fact code cannot check (e.g. a birthday): staff grants it


class Discount(_Model):
    id: Id
    percent: Annotated[StrictInt, Field(gt=0, le=100)]
    valid_days: PositiveInt | None = None
    when: Text
    conditions: OfferConditions | None = None


class Bonus(_Model):
    id: Id
    title: Text
    when: Text
    conditions: OfferConditions | None = None


class Offers(_Model):
    max_discount_percent: Percent
    discounts: list[Discount] = []
    bonuses: list[Bonus] = []


class KnowledgeBaseFile(_Model):
    """The whole file as written by the owner."""

    version: int | str = 1
    school: School
    products: list[Product]
    faq: list[FaqEntry]
    offers: Offers
    # what the school does NOT offer or do, one short phrase each («Очные занятия», «Диплом
    # государственного образца»): a reply that affirms one is stopped (brain.guardrails)
    not_offered: list[NotOffered] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        ok_int = isinstance(value, int) and not isinstance(value, bool) and value > 0
        ok_str = isinstance(value, str) and value.strip() != ""
        if not (ok_int or ok_str):
            raise ValueError("must be a positive integer or a non-empty string")
        return value


# Messages for pydantic error types, keyed by error type. Fields holding money or day counts get
# the "positive integer" wording whatever the underlying type error is.
POSITIVE_INT_FIELDS = {"price_rub", "days", "access_days", "valid_days"}
ERROR_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field (check the spelling; allowed fields are listed in "
                       "docs/knowledge-base.md)",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
}


# ---------------------------------------------------------------------------- error formatting

def format_loc(loc: tuple[Any, ...]) -> str:
    """('products', 3, 'price_rub') -> 'products[3].price_rub'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _message(err: ErrorDetails) -> str:
    etype, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if name in POSITIVE_INT_FIELDS and etype != "missing":
        return "must be a positive integer"
    if etype == "literal_error":
        return f"must be one of: {ctx.get('expected', '').replace(' or ', ', ')}".replace("'", "")
    if etype == "value_error":
        return str(ctx.get("error", err["msg"]))
    if etype in ERROR_MESSAGES:
        return ERROR_MESSAGES[etype]
    if etype == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if etype in ("less_than_equal", "greater_than_equal"):
        return "must be between 0 and 100" if name.endswith("percent") else err["msg"].lower()
    return err["msg"]


def _pydantic_errors(exc: ValidationError) -> list[str]:
    return [f"{format_loc(tuple(e['loc']))}: {_message(e)}" for e in exc.errors()]


# ---------------------------------------------------------------------------- cross-entry checks

def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_at(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _duplicate_ids(data: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    seen: dict[str, str] = {}
    for section in ("products", "faq"):
        for i, entry in enumerate(_list_at(data, section)):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            where = f"{section}[{i}]"
            first = seen.setdefault(entry["id"], where)
            if first != where:
                errors.append(f'{where}.id: duplicate id "{entry["id"]}" (already used by {first})')
    return errors


def _offer_errors(offers: object, known: set[Any]) -> list[str]:
    if not isinstance(offers, dict):
        return []
    errors: list[str] = []
    cap = offers.get("max_discount_percent")
    for section in ("discounts", "bonuses"):
        seen: dict[str, int] = {}
        for i, item in enumerate(_list_at(offers, section)):
            if not isinstance(item, dict):
                continue
            oid = item.get("id")
            if isinstance(oid, str):
                if oid in seen:
                    errors.append(f'offers.{section}[{i}].id: duplicate id "{oid}" '
                                  f"(already used by offers.{section}[{seen[oid]}])")
                seen.setdefault(oid, i)
            raw_conditions = item.get("conditions")
            conditions: dict[str, Any] = raw_conditions if isinstance(raw_conditions, dict) else {}
            for j, pid in enumerate(_list_at(conditions, "products")):
                if isinstance(pid, str) and pid not in known:
                    errors.append(f'offers.{section}[{i}].conditions.products[{j}]: '
                                  f'unknown product "{pid}"')
            pct = item.get("percent")
            if section == "discounts" and _is_int(cap) and _is_int(pct) and pct > cap:
                errors.append(f"offers.discounts[{i}].percent: {pct} exceeds "
                              f"offers.max_discount_percent ({cap})")
    return errors


def validate_data(data: object) -> tuple[KnowledgeBaseFile | None, list[str]]:
    """Validate parsed JSON. Returns (model or None, all errors)."""
    if not isinstance(data, dict):
        return None, ["<root>: must be a JSON object"]
    errors: list[str] = []
    model = None
    try:
        model = KnowledgeBaseFile.model_validate(data)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc))
    errors.extend(_duplicate_ids(data))
    known = {p.get("id") for p in _list_at(data, "products") if isinstance(p, dict)}
    errors.extend(_offer_errors(data.get("offers"), known))
    return (model if not errors else None), errors
