"""Text that PostgreSQL can store: no NUL characters, no lone surrogates.

Inputs from outside (VK, forms, CSV) are refused with a clear error instead; this is for text
we must keep anyway, such as a model's answer."""
from __future__ import annotations


def storable(value: str) -> bool:
    """PostgreSQL can store it as it is: no NUL character, no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: str) -> str:
    value = value.replace("\x00", "")
    return value if storable(value) else value.encode("utf-8", "replace").decode("utf-8")


def clean_json(value: object) -> object:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value
