"""System prompt templates (Russian), versioned by the hash of their content.

`PROMPT_VERSION` changes whenever any template changes, so staff can tell which wording
produced a stored answer. A `PromptSet` reads the same templates from another directory (the
eval lab's `--prompts DIR`): its `version` is computed the same way over what it reads, and a
template missing there is taken from the built-in directory.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

PROMPTS_DIR = Path(__file__).resolve().parent
PROMPT_NAMES = ("analysis", "reply", "reminder", "followup")
JUDGE_PROMPT = "judge"  # the eval lab's judge: versioned on its own, not part of PROMPT_VERSION


@lru_cache(maxsize=None)
def _read(directory: Path, name: str) -> str:
    path = directory / f"{name}.ru.md"
    if directory != PROMPTS_DIR and not path.exists():
        path = PROMPTS_DIR / f"{name}.ru.md"
    return path.read_text(encoding="utf-8").strip()


def _digest(texts: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for name, text in texts:
        digest.update(name.encode())
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:8]


class PromptSet:
    """The templates of one directory (default: the built-in one)."""

    def __init__(self, directory: Optional[str | Path] = None) -> None:
        self.directory = Path(directory).resolve() if directory else PROMPTS_DIR
        if not self.directory.is_dir():
            raise FileNotFoundError(f"prompts directory {self.directory} does not exist")

    def load(self, name: str) -> str:
        if name not in PROMPT_NAMES and name != JUDGE_PROMPT:
            raise KeyError(f"unknown prompt {name!r}")
        return _read(self.directory, name)

    @property
    def version(self) -> str:
        return _digest([(n, self.load(n)) for n in PROMPT_NAMES])

    @property
    def judge_version(self) -> str:
        return _digest([(JUDGE_PROMPT, self.load(JUDGE_PROMPT))])


DEFAULT_PROMPTS = PromptSet()


def load_prompt(name: str) -> str:
    if name not in PROMPT_NAMES:
        raise KeyError(f"unknown prompt {name!r}")
    return DEFAULT_PROMPTS.load(name)


PROMPT_VERSION: str = DEFAULT_PROMPTS.version


DEFAULT_PERSONA_NAME = "Алина"


@lru_cache(maxsize=1)
def persona_name() -> str:
    """The assistant's name from the persona block of the reply prompt («Тебя зовут Алина»), so
    the offline brain introduces itself as the owner named it."""
    m = re.search(r"Тебя зовут ([А-ЯЁ][а-яё]+)", load_prompt("reply"))
    return m.group(1) if m else DEFAULT_PERSONA_NAME


@lru_cache(maxsize=1)
def distinctive_lines(min_len: int = 40) -> tuple[str, ...]:
    """Long fragments of the prompts: a reply that quotes one of them leaks the instructions.
    The example replies («> …» lines) are the school's voice, not instructions: a reply may
    sound like them."""
    out: list[str] = []
    for name in PROMPT_NAMES:
        for line in load_prompt(name).splitlines():
            if line.startswith(">"):
                continue
            line = line.strip(" -").strip()
            for chunk in line.split(". "):
                chunk = chunk.strip().lower()
                if len(chunk) >= min_len:
                    out.append(chunk[:min_len])
    return tuple(out)
