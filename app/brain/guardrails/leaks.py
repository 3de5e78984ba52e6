"""Leak checks of a reply: the internal analysis, the instructions, JSON, staff notes and tags.

Leaks are caught by markers (field names, our tags, JSON), by sales and analysis vocabulary in
Russian and English (a funnel stage named to the client, «прогреть», «отработать возражение»),
by long quotes of the prompts, and by echoes of what only staff and the analysis wrote: the
card's notes and tags and the analysis' strategy and plan.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from app.brain.guardrails.money import Flag
from app.brain.prompts import distinctive_lines
from app.brain.prompts.kb import render_whole_kb
from app.knowledge import ru_text

if TYPE_CHECKING:
    from app.brain.contract import ClientCard
    from app.knowledge.base import KnowledgeBase

_MARKERS_RE = re.compile(
    r"internal[_ ]analysis|funnel[_ ]stage|psych[_ ]state|short[_ ]term[_ ]strategy|"
    r"long[_ ]term[_ ]strategy|reply[_ ]plan|kb[_ ]ids|follow[_ ]up\b|system prompt|"
    r"</?\s*(?:внутренн|решения_программы|карточка_клиента|база_знаний|новые_сообщения|"
    r"история_диалога|каталог|предложения_школы|итог_прошлого_хода|возражения_клиента)|"
    r"\b(?:стратеги[яи]|анализ|план ответа|решения программы|системн\w* промпт\w*)\s*:|"
    r"\{\s*\"[\w ]+\"\s*:|\"[a-z_]{3,}\"\s*:\s*[\[{\"\dtfn]", re.I)
_ANALYSIS_RE = re.compile(
    r"(?:стади|этап)\w*\s+(?:воронк|«?\s*(?:т[её]пл|горяч|холодн|клиент\b|вернувш))|"
    r"воронк\w* продаж|(?<![а-яё])лид(?:а|у|ом|ы|ов)?(?![а-яё])|"
    r"(?:т[её]пл|горяч|холодн)\w* (?:клиент|лид|контакт)|"
    r"(?:по|судя по) (?:моему |нашему |внутреннему )?анализу|мой анализ (?:показ|говор)|"
    r"психологическ\w* состояни|отработа\w* (?:ваш\w* |это )?возражени|ваш\w* возражени|"
    r"прогре\w* (?:вас|клиент\w*|лид\w*|аудитори\w*)|дожать|дожим|"
    r"довести (?:вас )?до (?:покупки|оплаты)|закрыть (?:вас )?на (?:покупку|оплату|сделку)|"
    r"выстроить доверие|(?:моя|наша) (?:задача|стратегия|тактика)\s*(?:[—–:-]|здесь|сейчас|в том)|"
    r"(?:мои|моим|моих) инструкци\w*|(?:по|согласно) (?:моим|своим) инструкци\w*|"
    r"в (?:ваш\w+ )?(?:заметк\w*|карточк\w*)(?: клиента)? (?:написан|указан|отмечен|стоит|есть)|"
    r"пометк\w* (?:в (?:вашей |моей )?карточк|о вас|что вы)|системн\w* промпт\w*|"
    r"мне (?:велено|поручено|приказано)|"
    r"(?:as an|i am an?) (?:ai|language model)|according to (?:the|my) (?:system|instructions)",
    re.I)


def leak_flags(text: str) -> list[Flag]:
    flags: list[Flag] = []
    bare = text.strip().strip("`").strip()
    for rx, reason in ((_MARKERS_RE, "служебные пометки или JSON"),
                       (_ANALYSIS_RE, "внутренний анализ или стратегия продаж")):
        m = rx.search(text)
        if m:
            flags.append(Flag("leak", reason, m.group(0)))
    if bare[:1] in "{[" and bare[-1:] in "}]":
        flags.append(Flag("leak", "ответ — JSON", bare[:60]))
    low = re.sub(r"\s+", " ", text.lower())
    quoted = next((line for line in distinctive_lines() if line in low), None)
    if quoted:
        flags.append(Flag("leak", "цитата инструкций", quoted))
    return flags


def _shingles(text: str, n: int, lemmas: bool) -> set[tuple[str, ...]]:
    words = ru_text.lemmas(text) if lemmas else ru_text.words(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _echo(reply: str, source: str, n: int, lemmas: bool = False) -> Optional[str]:
    """n words in a row shared by the reply and the source (by lemma: any case or person)."""
    common = _shingles(reply, n, lemmas) & _shingles(source, n, lemmas)
    return " ".join(sorted(common)[0]) if common else None


def _tag_rx(tag: str) -> Optional[re.Pattern[str]]:
    words = ru_text.words(tag)
    if not words or len(tag.strip()) < 3:
        return None
    stems = [re.escape(w if len(w) <= 4 else w[:len(w) - 2]) + r"[a-zа-яё]*" for w in words]
    return re.compile(r"(?<![a-zа-яё])" + r"[\W_]+".join(stems), re.I)


def _client_said(fragment: str, client: str) -> bool:
    """Every word of the fragment is in the client's own messages (by lemma)."""
    words = set(ru_text.lemmas(fragment))
    return bool(words) and words <= set(ru_text.lemmas(client))


def _note_flags(text: str, notes: str, client: str) -> list[Flag]:
    low = ru_text.fold(text)
    parts = [notes.strip()] if len(notes.strip()) >= 8 else []
    parts += [p.strip() for p in re.split(r"[,;.!?\n]+", notes) if len(ru_text.words(p)) >= 2]
    found = [p for p in parts if ru_text.fold(p) in low and not _client_said(p, client)]
    frag = _echo(text, notes, 3, lemmas=True)
    if frag and not _echo(client, frag, 3, lemmas=True):
        found.append(frag)
    return [Flag("leak", "заметка сотрудников в ответе", f[:80]) for f in dict.fromkeys(found)]


def echo_flags(text: str, card: ClientCard, analysis: Optional[Any], kb: Optional[KnowledgeBase],
               client: str = "") -> list[Flag]:
    """What only staff or the analysis wrote, repeated to the client (what the client said
    themselves, or what the KB says, is no secret)."""
    flags = _note_flags(text, card.notes or "", client)
    low = ru_text.fold(text)
    kb_text = ru_text.fold(" ".join(kb.ids() if kb is not None else []) + " " + _kb_words(kb))
    for tag in card.tags or []:
        rx = _tag_rx(tag)
        m = rx.search(low) if rx else None
        if m and rx and not rx.search(kb_text) and not _client_said(tag, client):
            flags.append(Flag("leak", "метка карточки в ответе", m.group(0)))
    if analysis is not None:
        for name in ("short_term_strategy", "long_term_strategy", "reply_plan", "intent",
                     "psych_state"):
            frag = _echo(text, str(getattr(analysis, name, "") or ""), 6)
            if frag:
                flags.append(Flag("leak", f"пересказ внутреннего анализа ({name})", frag))
    return flags


def _kb_words(kb: Optional[KnowledgeBase]) -> str:
    return render_whole_kb(kb) if kb is not None else ""
