"""How the offline brain splits a message into the asks it answers.

A client often asks two things at once: in two sentences, or in one joined by «и» («с какого
курса начать и сколько он стоит?»). A sub-question that only repeats a generic ask («какие
даты и сколько стоит?») takes its subject from the rest of the message: when that subject is a
topic the KB does not have, the generic ask must not be answered from an unrelated entry.
"""
from __future__ import annotations

import re

QUESTION_SPLIT_RE = re.compile(r"(?<=[?!.])\s+|\n+")
# «… и сколько …», «… и можно ли …»: «и» followed by a question word starts a second ask
JOINED_ASK_RE = re.compile(
    r"\s*,?\s+и\s+(?=(?:сколько|как|когда|где|можно|нужн|какой|какая|какие|каков|что|есть|"
    r"с како|кто|чем|почему|зачем|будет|бывает|подойд)[а-яё]*\b)", re.I)
GENERIC_WORD_RE = re.compile(
    r"а|и|или|ли|же|у|в|во|на|по|за|с|он|она|оно|они|это|его|её|ее|их|вас|вы|там|тут|"
    r"как\w*|когда|сколько|почём|почем|где|дат\w*|срок\w*|цен\w*|сто[иая]\w*|длит\w*|"
    r"проход\w*|начина\w*|будет|есть|расписани\w*|время|подробн\w*|условия|программ\w*", re.I)


def sentences(text: str) -> list[str]:
    """The message's questions (sentences with «?»); the whole message when it is one."""
    return [p.strip() for p in QUESTION_SPLIT_RE.split(text) if "?" in p and p.strip()]


def joined_asks(question: str) -> list[str]:
    """The asks of one question joined by «и» (none when it is a single ask)."""
    asks = [a.strip(" ,") for a in JOINED_ASK_RE.split(question) if a.strip(" ,")]
    return asks if len(asks) > 1 else []


def generic_only(ask: str) -> bool:
    """True for an ask made only of generic words («какие даты и сколько стоит?»)."""
    words = re.findall(r"[а-яёa-z0-9]+", ask.lower())
    return bool(words) and all(GENERIC_WORD_RE.fullmatch(w) for w in words)
