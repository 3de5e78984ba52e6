"""Promises of a person, kept in code (pure: no database, no model).

A reply that tells the client a person will check, answer or send something is a promise: the
pipeline must call a person (manager alert, dialog marked for staff) even when the analysis did
not escalate, and the client is told *when*, from the KB's working hours in the client's time
zone (at 23:40 a colleague answers «завтра после 9:00», not "soon").

The client is already writing to the school, so a reply never sends them to "write to the
manager": KB answers that end that way («напишите менеджеру», «уточните у менеджера») are
rewritten into a hand-over («напишите здесь — я передам менеджеру»), which is itself a promise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Optional
from zoneinfo import ZoneInfo

from app.platform.ru_format import _WEEKDAYS_ACC, local

if TYPE_CHECKING:
    from app.knowledge.base import KnowledgeBase

SCHOOL_TZ = "Europe/Moscow"
DEFAULT_HOURS = ("09:00", "21:00")
MIN_LEFT = timedelta(hours=1)  # less than this before closing: promise the next opening

_STAFF = (r"(?:менеджер\w*|коллег\w*|сотрудник\w*|администратор\w*|специалист\w*|куратор\w*|"
          r"поддержк\w*|(?:живо\w+ )?человек)")
_FUTURE = (r"(?:ответ(?:ит|ят)|напиш(?:ет|ут)|свяж(?:ется|утся)|пришл(?:ёт|ет|ют)|"
           r"провер(?:ит|ят)|уточн(?:ит|ят)|подскаж(?:ет|ут)|откро(?:ет|ют)|исправ(?:ит|ят)|"
           r"перенес(?:ёт|ет|ут)|согласу(?:ет|ют)|выстав(?:ит|ят)|оформ(?:ит|ят)|"
           r"разбер(?:ётся|ется|утся)|посмотр(?:ит|ят)|подключ(?:ится|атся)|перезвон(?:ит|ят)|"
           r"найд(?:ёт|ет|ут)|верн(?:ёт|ет|ут)ся)")
PROMISE_RE = re.compile(
    # «передам ваш вопрос менеджеру», «передаю коллегам», «передала менеджеру»
    rf"(?<![а-яё])(?:я\s+)?переда(?:м|ю|ла|л|дим)\b[^.!?\n]{{0,40}}?{_STAFF}|"
    # «уточню у коллег», «спрошу у менеджера», «позову человека»
    rf"(?<![а-яё])(?:уточн(?:ю|им)|узна(?:ю|ем)|спрош(?:у|ом)|позов(?:у|ём|ем))\s+"
    rf"(?:у\s+)?{_STAFF}|"
    # «менеджер ответит», «коллеги проверят и напишут»
    rf"(?<![а-яё]){_STAFF}[^.!?\n]{{0,40}}?(?<![а-яё]){_FUTURE}(?![а-яё])|"
    # «ссылку пришлёт менеджер»
    rf"(?<![а-яё]){_FUTURE}\s+(?:вам\s+)?(?:наш\w*\s+)?{_STAFF}|"
    # «вам ответят здесь же», «с вами свяжутся», «ссылку пришлют»
    r"(?<![а-яё])(?:вам|с вами)\s+(?:\S+\s+)?(?:ответят|напишут|свяжутся|пришлют|перезвонят)|"
    r"(?<![а-яё])ответят\s+(?:здесь|в этом|тут)|"
    # the school's staff in the first person plural: «пришлём», «откроем доступ вручную»
    r"(?<![а-яё])(?:пришл[её]м|откро[её]м|перенес[её]м|исправим|выставим|провер(?:им|ят)|"
    r"найд[её]м ваш)(?![а-яё])", re.I)
# an offer to call a person is not a promise yet («если хотите, передам менеджеру»); neither is
# how the school works after a purchase («после оплаты менеджер согласует время»)
OFFER_RE = re.compile(r"если (?:хотите|захотите|нужно|нужен|нужна|понадобится|удобно|решите|"
                      r"вам удобно)|если не (?:получается|получится|помогло|поможет|пришло)|"
                      r"если (?:письма|ссылки) нет|"
                      r"мог(?:у|ла бы|ли бы) (?:передать|позвать|уточнить)|хотите,? (?:я|чтобы)|"
                      r"после (?:оплаты|покупки)|не (?:передам|ответят|пришлют)", re.I)
TIME_RE = re.compile(r"сегодня|завтра|утром|вечером|в течение (?:рабочего дня|часа|\d+ минут)|"
                     r"в ближайш\w* (?:час|минут)|до \d|после \d|с \d{1,2}(?::\d\d)? до|"
                     r"в \d{1,2}:\d\d|понедельник|вторник|в среду|четверг|пятниц|суббот|"
                     r"воскресень", re.I)
SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|\n+")
# «напишите менеджеру» and its kin: the client is already writing to the school
REDIRECTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), r) for p, r in (
        (r"(?:вы\s+можете\s+)?уточн(?:ите|ить)\s+у\s+менеджера", "я уточню у коллег"),
        (r"(?:напишите|сообщите)\s+(?:в\s+сообщения\s+сообщества(?:\s+ВКонтакте)?|"
         r"нашему\s+менеджеру|менеджеру(?:\s+школы)?|в\s+поддержку|администратору)",
         "напишите здесь"),
        (r"(?:пришлите|отправьте|скиньте)\s+(?:нашему\s+)?(?:менеджеру|в\s+поддержку)",
         "пришлите сюда"),
        (r"(?:свяжитесь|свяжетесь)\s+с\s+(?:нашим\s+)?менеджером|"
         r"обратитесь\s+к\s+(?:нашему\s+)?менеджеру", "напишите здесь"),
        # an alternative channel, not a request: no hand-over appended
        (r"(?:или\s+)?через\s+менеджера", "или здесь, в переписке"),
    ))
ALTERNATIVE = "или здесь, в переписке"
HANDOVER = "я передам менеджеру"


@dataclass(frozen=True)
class Promise:
    fragment: str  # where the reply promises a person
    sentence: str


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_RE.split(text or "") if s.strip()]


def find_promises(text: str) -> list[Promise]:
    """Every sentence of `text` that promises a person will act."""
    out = []
    for sentence in _sentences(text):
        m = None if OFFER_RE.search(sentence) else PROMISE_RE.search(sentence)
        if m:
            out.append(Promise(m.group(0), sentence))
    return out


def find_promise(text: str) -> Optional[Promise]:
    """The first sentence of `text` that promises a person will act, or None."""
    found = find_promises(text)
    return found[0] if found else None


def find_redirect(text: str) -> Optional[str]:
    """A fragment sending the client to "write to the manager", or None."""
    for rx, _ in REDIRECTS:
        m = rx.search(text or "")
        if m:
            return m.group(0)
    return None


def _fix_sentence(sentence: str) -> str:
    out = sentence
    for rx, repl in REDIRECTS:
        out = _replace(rx, repl, out)
    if out == sentence or PROMISE_RE.search(out) or ALTERNATIVE in out.lower():
        return out
    m = re.match(r"(.*?)([.!?…]*)$", out.rstrip(), re.S)
    body, end = (m.group(1), m.group(2)) if m else (out, "")
    joiner = ", и " if "—" in body else " — "
    return f"{body.rstrip(' ,—-')}{joiner}{HANDOVER}{end or '.'}"


def _replace(rx: re.Pattern[str], repl: str, text: str) -> str:
    def cased(m: re.Match[str]) -> str:
        return _cased(repl, m.group(0))

    return rx.sub(cased, text)


def _cased(repl: str, found: str) -> str:
    return repl[:1].upper() + repl[1:] if found[:1].isupper() else repl


def without_redirects(text: str) -> str:
    """`text` with every "write to the manager" turned into a hand-over in this dialog."""
    if find_redirect(text) is None:
        return text
    parts = re.split(r"((?<=[.!?…])\s+|\n+)", text)
    return "".join(_fix_sentence(p) if find_redirect(p) else p for p in parts)


@dataclass(frozen=True)
class Hours:
    start: time
    end: time
    tz: str


def school_hours(kb: Optional[KnowledgeBase]) -> Hours:
    wh = kb.school.working_hours if kb is not None else None
    start, end = (wh.start, wh.end) if wh is not None else DEFAULT_HOURS
    return Hours(time.fromisoformat(start), time.fromisoformat(end),
                 (kb.school.timezone if kb is not None else "") or SCHOOL_TZ)


def _clock(t: datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def _day(moment: datetime, now: datetime) -> str:
    days = (moment.date() - now.date()).days
    if days == 0:
        return "сегодня"
    if days == 1:
        return "завтра"
    return f"в {_WEEKDAYS_ACC[moment.weekday()]}"


def handoff_when(now: datetime, client_tz: str, kb: Optional[KnowledgeBase]) -> str:
    """When a person answers, in the client's words and zone: «сегодня до 21:00»,
    «завтра после 9:00», «сегодня после 11:00 по вашему времени»."""
    hours = school_hours(kb)
    try:
        zone = ZoneInfo(hours.tz)
    except (KeyError, ValueError):
        zone = ZoneInfo(SCHOOL_TZ)
    here = now.astimezone(zone)
    opens = here.replace(hour=hours.start.hour, minute=hours.start.minute, second=0,
                         microsecond=0)
    closes = here.replace(hour=hours.end.hour, minute=hours.end.minute, second=0, microsecond=0)
    mine = local(now, client_tz)
    suffix = "" if mine.utcoffset() == here.utcoffset() else " по вашему времени"
    if opens <= here and here + MIN_LEFT <= closes:
        return f"сегодня до {_clock(local(closes, client_tz))}{suffix}"
    nxt = opens if here < opens else opens + timedelta(days=1)
    at = local(nxt, client_tz)
    return f"{_day(at, mine)} после {_clock(at)}{suffix}"


def when_sentence(when: str) -> str:
    return f"Коллеги напишут вам здесь же, {when}."


def keep_promise(text: str, now: datetime, client_tz: str,
                 kb: Optional[KnowledgeBase]) -> tuple[str, bool]:
    """(the reply to send, whether it promises a person). Redirects to the manager become a
    hand-over; a promise without a time gets one sentence saying when a person answers."""
    text = without_redirects(text)
    promises = find_promises(text)
    if not promises:
        return text, False
    if any(TIME_RE.search(p.sentence) for p in promises):
        return text, True
    when = handoff_when(now, client_tz, kb)
    for p in promises:
        here = re.search(r"(здесь же|в этом диалоге)([.!]?)\s*$", p.sentence)
        if here:  # «… ответит здесь же.» → «… ответит здесь же, завтра после 9:00.»
            fixed = p.sentence[:here.start(2)] + f", {when}" + (here.group(2) or ".")
            return text.replace(p.sentence, fixed, 1), True
    promise = promises[-1]
    sentence = when_sentence(when)
    parts = _sentences(text)
    at = parts.index(promise.sentence) + 1 if promise.sentence in parts else len(parts)
    # the time goes right after the promise (before a closing question, if any)
    head = text.rstrip()
    if at < len(parts):
        cut = text.find(parts[at], text.find(promise.sentence) + len(promise.sentence))
        if cut > 0:
            return text[:cut].rstrip() + " " + sentence + " " + text[cut:], True
    return head + " " + sentence, True
