"""System prompt templates (Russian), versioned by the hash of their content.

`PROMPT_VERSION` changes whenever any template changes, so staff can tell which wording
produced a stored answer.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent
PROMPT_NAMES = ("analysis", "reply", "reminder")


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    if name not in PROMPT_NAMES:
        raise KeyError(f"unknown prompt {name!r}")
    return (PROMPTS_DIR / f"{name}.ru.md").read_text(encoding="utf-8").strip()


def _version() -> str:
    digest = hashlib.sha256()
    for name in PROMPT_NAMES:
        digest.update(name.encode())
        digest.update(load_prompt(name).encode("utf-8"))
    return digest.hexdigest()[:8]


PROMPT_VERSION: str = _version()


@lru_cache(maxsize=1)
def distinctive_lines(min_len: int = 40) -> tuple[str, ...]:
    """Long fragments of the prompts: a reply that quotes one of them leaks the instructions."""
    out: list[str] = []
    for name in PROMPT_NAMES:
        for line in load_prompt(name).splitlines():
            line = line.strip(" -").strip()
            for chunk in line.split(". "):
                chunk = chunk.strip().lower()
                if len(chunk) >= min_len:
                    out.append(chunk[:min_len])
    return tuple(out)
