"""Money checks of a reply: prices per product, discounts (in digits and in words), promo codes.

Each check returns `Flag`s with the offending fragment. A price is checked against the product
the sentence names (the nearest title before it, else after it); derived amounts pass (shares,
multiples, KB percents, and with words like «разница», «вместе», «по отдельности» also sums and
differences of KB prices; a bundle only against its own parts). An extension price without a
product in its sentence belongs to the product the reply named last. A percent in a refusing or
negated sentence is not a promise, nor is the client's own percent repeated in a refusal. A
device's model name (a latin brand or a device noun beside it) is not a promo code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from app.brain.guardrails.facts import (
    AMOUNT_RE,
    FREE_RE,
    PERCENT_RE,
    SHARES,
    SPACE,
    KbMoney,
    ProductMoney,
    content_lemmas,
    num,
    sentences,
)
from app.knowledge import ru_text


@dataclass(frozen=True)
class Flag:
    name: str  # leak, price, discount, empty, too_long, not_russian
    reason: str  # why, in Russian, for staff
    fragment: str = ""  # the offending part of the reply


_PRICE_CUE_RE = re.compile(
    r"(?:сто[ия]\w*|цен[аеуы]\w*|обойд\w*|выйд\w*|выходит|всего|лишь|только|стоимост\w*|"
    r"оплат\w*|плат[её]ж\w*|заплат\w*|отда\w*|продам|продаём|за|по)"
    rf"{SPACE}+(?:(?:всего|лишь|только|примерно|около|в|за|по){SPACE}+)*$", re.I)
_NOT_PRICE_AFTER_RE = re.compile(
    rf"^{SPACE}*(?:[-–—]?{SPACE}*(?:\d|лет|год|дн|день|сут|минут|мин\b|час|урок|заняти|клавиш|"
    r"процент|%|раз|мес|недел|шт|человек|учени|видео|пьес|песен|песн|модул|г/м|гб|кб|мб|бит|"
    r"секунд|страниц|слов|нот|аккорд|задани|балл|:|/|x|×|-?[а-яё]{1,2}\b))", re.I)
_APPROX_RE = re.compile(r"(?:примерно|около|порядка|почти|≈|~|приблизительно)\W*$", re.I)
_COMBO_RE = re.compile(r"разниц|эконом|сэконом|отдельн|вместе|итого|сумм|дешевле|дороже|плюс|"
                       r"вместо", re.I)
DISCOUNT_CONTEXT_RE = re.compile(
    r"скидк|промо|купон|дешевле|выгод|эконом|акци|распрода|сниж|ниже|уступ|скин|сбав|\bминус|"
    r"\boff\b|\bsale\b|для вас|специальн|дарю|только сегодня|успе[йв]", re.I)
_PERSONAL_RE = re.compile(r"для вас|вам\b|дарю|даю|дадим|дам\b|выда[мю]|оформлю|сделаю|сделаем|"
                          r"договорил\w*|\bваш[аи]\b|пришлю|"
                          r"персональн|специально|мог(?:у|ли бы) (?:отдать|предложить|сделать|"
                          r"дать|снизить)", re.I)
# «уточню, действует ли она для вас»: a standing KB discount named with a hedge is no promise
_HEDGED_RE = re.compile(r"уточн\w*|провер\w*|узна\w*|если (?:вы|у вас|она)|возможно|"
                        r"может быть|действует ли|подходит ли", re.I)
# an ad-hoc price cut is a promise even with a percent the KB states for something else
_CUT_RE = re.compile(r"ниже на|сниж\w*|сниз\w*|скин\w*|сбав\w*|уступ\w*|дешевле на", re.I)
_NEGATED_RE = re.compile(
    r"\bне\s+(?:могу|можем|смогу|сможем|получится|выйдет|предусмотрен\w*|быва\w*|да[её]м|"
    r"дела\w*|предлага\w*|скидыва\w*|предоставля\w*|име\w*|вправе|положен\w*|дадим|дам|"
    r"обещ\w*|сделаю|сделаем)|\bнет\b|к сожалению|не в моих силах|не существует", re.I)
# «Скидку 40% школа не даёт», «50% — увы, больше, чем мы можем»: the client's percent, refused
_REFUSAL_RE = re.compile(r"увы|больше,?\s+чем|больше\s+(?:наш|максим|предел)|выше\s+(?:наш|"
                         r"предел|максим)|превыша\w*|слишком|не\s+(?:да[её]т|предоставля\w*|"
                         r"получится|выйдет)|за\s+пределами|не\s+бывает", re.I)
_WORD_PERCENTS = ((re.compile(r"половин\w*\s+(?:стоимост|цен)\w*|пол\s*-?\s*цены|вдвое дешевле",
                              re.I), 50.0),
                  (re.compile(r"трет\w*\s+(?:стоимост|цен)\w*|на треть", re.I), 33.0),
                  (re.compile(r"четверт\w*\s+(?:стоимост|цен)\w*|на четверть", re.I), 25.0))
_CODE_WORD_RE = re.compile(r"(?:промо-?код\w*|купон\w*|(?<![a-zа-яё])код\w*|\bcode)"
                           r"\s*[:—–-]?\s*[«\"'„]?([A-Za-zА-ЯЁа-яё0-9][A-Za-zА-ЯЁа-яё0-9_-]{2,})")
_CODE_TOKEN_RE = re.compile(r"(?<![\w-])(?=[A-ZА-ЯЁ0-9_-]*\d)(?=[A-ZА-ЯЁ0-9_-]*[A-ZА-ЯЁ])"
                            r"[A-ZА-ЯЁ][A-ZА-ЯЁ0-9_-]{3,}(?![\w-])")
_BRAND_BEFORE_RE = re.compile(r"[A-Z][A-Za-z]+(?:-[A-Z][a-z]+)?\s+$")
# a device's model name («планшет H640P», «Apple Pencil 2 (MU8F2)», «SM-P613 — это Galaxy Tab»):
# a latin brand word or a device noun next to the token; a real code comes after «промокод»
_BRAND_WORD_RE = re.compile(r"\b[a-z]?[A-Z][a-z]{2,}\b")
_DEVICE_RE = re.compile(r"планшет|модел|стилус|маркер|линер|карандаш|кист[иь]|бумаг|пианино|"
                        r"синтезатор|гитар|укулеле|усилител|комбик|микрофон|наушник|струн|"
                        r"ноутбук|телефон|смартфон|камер|фотоаппарат|процессор|инструмент|"
                        r"серии|версии|артикул", re.I)
_URL_RE = re.compile(r"https?://\S+|\b[\w.-]+\.(?:ru|com|me|рф)\S*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
                     re.I)


def _near(value: float, allowed: Iterable[float], tol: float) -> bool:
    return any(abs(value - a) <= tol for a in allowed)


def _mentions(sentence: str, money: KbMoney) -> list[tuple[int, ProductMoney]]:
    low = ru_text.fold(sentence)
    found = [(m.start(), p) for p in money.products for m in p.mention.finditer(low)]
    return sorted(found, key=lambda x: x[0])


def _product_at(pos: int, mentions: list[tuple[int, ProductMoney]]) -> Optional[ProductMoney]:
    before = [p for at, p in mentions if at < pos]
    return before[-1] if before else (mentions[0][1] if mentions else None)


def _amounts(sentence: str, any_number: bool = False) -> Iterable[tuple[re.Match[str], float]]:
    for m in AMOUNT_RE.finditer(sentence):
        number, thousands, currency = m.groups()
        value = num(number) * (1000 if thousands else 1)
        if not (thousands or currency or any_number):
            before, after = sentence[:m.start()], sentence[m.end(1):]
            if value < 100 or not _PRICE_CUE_RE.search(before[-40:]) \
                    or _NOT_PRICE_AFTER_RE.match(after) or re.search(r"[\w:/-]$", before):
                continue
        yield m, value


_PER_UNIT_RE = re.compile(rf"^{SPACE}*(?:в|за|на){SPACE}+(?:день|сутки|недел\w*|месяц|урок|"
                          r"занятие|встречу|час|минуту)\b", re.I)
_CLIENT_ECHO_RE = re.compile(r"бюджет|вы (?:писали|написали|указали|назвали)|ваш\w* (?:сумм|бюджет)",
                             re.I)


def _per_unit(value: float, after: str, money: KbMoney) -> bool:
    """«около 41 ₽ в день»: a KB price spread over days, lessons or months."""
    if not _PER_UNIT_RE.match(after):
        return False
    prices = {x for p in money.products for x in p.own}
    return any(2 <= p / value <= 400 and abs(p / round(p / value) - value) <= 0.03 * value
               for p in prices if value > 0)


def _stated_here(sentence: str, money: KbMoney) -> set[float]:
    """KB-text amounts («рассрочка для покупок от 10 000 ₽») whose KB sentence shares a word
    with this one: the same fact, not a KB number reused for something else."""
    mine = content_lemmas(sentence)
    return {value for value, words in money.text_amounts if mine & words}


def _said_by_client(sentence: str, value: float, client_amounts: set[float]) -> bool:
    """The client's own sum, echoed back in a refusal or as their budget."""
    return _near(value, client_amounts, 1.0) and bool(
        _NEGATED_RE.search(sentence) or _CLIENT_ECHO_RE.search(sentence))


def _allowed(sentence: str, pos: int, money: KbMoney, granted: set[float],
             mentions: list[tuple[int, ProductMoney]], combo: bool) -> tuple[set[float], str]:
    product = _product_at(pos, mentions)
    if product is not None:
        allowed = money.derive(product.own, granted)
        reason = f"сумма не совпадает с ценой продукта {product.id} из базы знаний"
    else:  # no multiples here: «4 × 2 500» passes only in a comparison (combos below)
        allowed = money.derive({x for p in money.products for x in p.own}, granted,
                               multiples=False) | _stated_here(sentence, money) | {0.0}
        reason = "сумма не найдена в базе знаний"
    return (allowed | money.combos if combo else allowed), reason


def _arithmetic(value: float, accepted: list[float]) -> bool:
    """«1 490 ₽ в месяц, за полгода — 8 940 ₽»: a multiple, share, sum or difference of amounts
    this sentence states and that passed."""
    near = [a * n for a in accepted for n in SHARES] + [a / n for a in accepted for n in SHARES]
    near += [a + b for a in accepted for b in accepted] + [abs(a - b) for a in accepted
                                                           for b in accepted]
    return _near(value, near, 1.0)


_EXTENSION_RE = re.compile(r"продл\w*", re.I)


def _named(sentence: str, money: KbMoney,
           mentions: list[tuple[int, ProductMoney]]) -> list[ProductMoney]:
    """Products the sentence names, by title or by a distinctive word of it («акварель»)."""
    words = set(ru_text.lemmas(sentence))
    out = {p.id: p for _, p in mentions}
    out.update({p.id: p for p in money.products if p.aliases & words})
    return list(out.values())


def _compared(named: list[ProductMoney]) -> set[float]:
    """«Акварель дороже рисунка на 2 000 ₽», «вместе выйдет 17 800 ₽»: the difference and the
    sum of two products the sentence names; for a bundle, its parts' total and the saving."""
    out = {abs(a.price - b.price) for a in named for b in named if a is not b}
    out |= {a.price + b.price for a in named for b in named if a is not b}
    for p in named:
        if p.parts_sum is not None:
            out |= {p.parts_sum, p.parts_sum - p.price}
    return out


def price_flags(text: str, money: KbMoney, granted: set[float],
                client_text: str = "") -> list[Flag]:
    flags: list[Flag] = []
    client_amounts = {v for s in sentences(client_text) for _, v in _amounts(s, any_number=True)}
    last: Optional[ProductMoney] = None  # the product the reply spoke of last
    for sentence in sentences(text):
        if money.states(sentence):
            continue  # the KB's own sentence, quoted: its prices are where the KB put them
        mentions = _mentions(sentence, money)
        amounts = list(_amounts(sentence))
        named = _named(sentence, money, mentions)
        compares = bool(_COMBO_RE.search(sentence))
        bundle = next((p for p in named if p.parts_sum is not None), None)
        # a sum or a difference compares two things: two amounts or two products named; a
        # bundle against its own parts only
        combo = compares and bundle is None and (
            len(amounts) >= 2 or len({p.id for _, p in mentions}) >= 2)
        compared = _compared(named) if compares and (len(named) >= 2 or bundle) else set()
        # «Продление на 90 дней стоит 2 900 ₽» after a sentence about a course: the price of
        # that course's extension, not any extension price of the KB
        carried = last if not mentions and _EXTENSION_RE.search(sentence) else None
        accepted: list[float] = []
        pending: list[tuple[re.Match[str], float, str]] = []
        for m, value in amounts:
            tol = max(1.0, value * 0.03) if _APPROX_RE.search(sentence[:m.start()][-25:]) else 1.0
            if carried is not None:
                ext = carried.extension
                allowed = money.derive({ext} if ext is not None else carried.own, granted)
                reason = f"цена продления не совпадает с продлением {carried.id} из базы знаний"
            else:
                allowed, reason = _allowed(sentence, m.start(), money, granted, mentions, combo)
            allowed = allowed | compared
            if _near(value, allowed, tol) or _per_unit(value, sentence[m.end():], money) or \
                    _said_by_client(sentence, value, client_amounts):
                accepted.append(value)
            else:
                pending.append((m, value, reason))
        flags += [Flag("price", reason, m.group(0).strip()) for m, value, reason in pending
                  if not _arithmetic(value, accepted)]
        if mentions:
            last = mentions[-1][1]
    return flags


def _percents(sentence: str) -> list[tuple[float, str, bool]]:
    """(value, fragment, is_word_form) for every percent in the sentence."""
    out = [(num(m.group(1)), m.group(0), False) for m in PERCENT_RE.finditer(sentence)]
    for rx, value in _WORD_PERCENTS:
        out += [(value, m.group(0), True) for m in rx.finditer(sentence)]
    return out


def _free_is_stated(sentence: str, money: KbMoney) -> bool:
    mine = content_lemmas(sentence)
    return any(len(mine & kb) >= 2 for kb in money.free_lemmas)


def _ratios(text: str) -> set[float]:
    """Percents that compare two amounts said in the reply («29 900 ₽ вместо 39 700 ₽ — почти
    25 % экономии»): those amounts are checked as prices, so their ratio is arithmetic."""
    values = sorted({v for s in sentences(text) for _, v in _amounts(s)})
    return {round((b - a) / b * 100) for i, a in enumerate(values) for b in values[i + 1:]}


def discount_flags(text: str, money: KbMoney, granted: set[float],
                   client_text: str = "") -> list[Flag]:
    flags: list[Flag] = []
    ratios = _ratios(text)
    asked = {v for s in sentences(client_text) for v, _, _ in _percents(s)}
    for sentence in sentences(_URL_RE.sub(" ", text)):
        negated = bool(_NEGATED_RE.search(sentence))
        context = bool(DISCOUNT_CONTEXT_RE.search(sentence))
        personal = bool(_PERSONAL_RE.search(sentence))
        refused = bool(_REFUSAL_RE.search(sentence))
        for value, fragment, word in _percents(sentence):
            if negated or value in granted or not (context or word):
                continue
            if value in asked and refused:
                continue  # the percent the client asked for, refused
            if not personal and _COMBO_RE.search(sentence) and any(
                    abs(value - r) <= 1 for r in ratios):
                continue  # a saving computed from amounts the reply states
            if value > money.cap:
                flags.append(Flag("discount", f"скидка {value:g}% больше предела "
                                              f"{money.cap}%", fragment))
            elif value not in money.percents or _CUT_RE.search(sentence) or (
                    personal and not _HEDGED_RE.search(sentence)):
                flags.append(Flag("discount", f"скидка {value:g}% не выдана программой",
                                  fragment))
        free = FREE_RE.search(sentence)
        if free and not negated and not _free_is_stated(sentence, money):
            flags.append(Flag("discount", "«бесплатно» о том, что в базе знаний платное",
                              free.group(0)))
    return flags


def _model_name(sentence: str, start: int, end: int) -> bool:
    """A token found without a code word that names a device: a brand before it, or a brand
    or a device noun within a few words around it."""
    before, after = sentence[max(0, start - 40):start], sentence[end:end + 40]
    return bool(_BRAND_BEFORE_RE.search(sentence[:start]) or _DEVICE_RE.search(before)
                or _BRAND_WORD_RE.search(before) or _BRAND_WORD_RE.search(after))


def code_flags(text: str, money: KbMoney, granted_codes: set[str]) -> list[Flag]:
    flags: list[Flag] = []
    plain = _URL_RE.sub(" ", text)
    for sentence in sentences(plain):
        found: dict[str, str] = {}
        for m in _CODE_WORD_RE.finditer(sentence):
            token = m.group(1)
            if re.search(r"\d", token) or (token.isupper() and len(token) >= 4):
                found[token.upper()] = token
        if DISCOUNT_CONTEXT_RE.search(sentence) or found:
            for m in _CODE_TOKEN_RE.finditer(sentence):
                if m.group(0).upper() not in found and _model_name(sentence, m.start(), m.end()):
                    continue
                found.setdefault(m.group(0).upper(), m.group(0))
        for key, token in found.items():
            if key not in granted_codes and key not in money.tokens:
                flags.append(Flag("discount", "промокод не выдан программой", token))
    return flags
