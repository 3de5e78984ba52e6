"""Guardrails on replies: leaks, prices, discounts, promo codes, size, language."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.brain.contract import Decisions, OfferDecision
from app.brain.guardrails.check import FALLBACK_REPLY, check_reply
from app.brain.prompts import load_prompt
from tests.brain.test_brain_offline import NOW, make_ctx


def flags(text: str, decisions: Decisions | None = None, question: str = "Расскажите о курсах",
          kb_ids: tuple = ()) -> list[str]:
    return check_reply(text, make_ctx(question), decisions or Decisions(), kb_ids)


GRANTED = Decisions(offer=OfferDecision(requested_id="first-purchase", granted=True, reason="ok",
                                        kind="discount", percent=10, code="PIANO-7K2Q",
                                        expires_at=NOW + timedelta(days=3)),
                    allowed_codes={"PIANO-7K2Q"}, allowed_percents={10})


def test_clean_reply_with_kb_prices_passes():
    text = ("Для старта подойдёт «Фортепиано с нуля» — 14 900 ₽, доступ на 365 дней, "
            "продление 2900 руб. Можно и «Аккорды и аккомпанемент» за 7\u00a0900 ₽. "
            "Это примерно 14.9 тыс за год занятий. Скажите, играли ли вы раньше?")
    assert flags(text) == []
    assert check_reply(FALLBACK_REPLY, make_ctx("?"), Decisions()) == []


def test_the_kbs_own_sentence_quoted_passes_but_its_prices_stay_tied_to_their_products():
    quoted = ("Стоимость продления: «Фортепиано с нуля» и «Фортепиано: следующий шаг» — 2 900 ₽, "
              "«Мастерство исполнения» — 3900 ₽, детский курс — 2500 ₽, семейный комплект — "
              "4900 ₽.")
    assert flags(quoted, question="Как продлить доступ?") == []
    assert flags("Продление курса «Мастерство исполнения» стоит 2500 ₽.",
                 question="Как продлить доступ?") == ["price"]


@pytest.mark.parametrize("text", [
    "<internal_analysis>клиент тёплый</internal_analysis> Здравствуйте, Анна!",
    'Здравствуйте! {"funnel_stage": "hot", "psych_state": "сомневается"}',
    "Здравствуйте! Стратегия: дожать клиента до покупки сегодня.",
    "Анализ: клиент сомневается. Здравствуйте, Анна, расскажу о курсах.",
    "Конечно, вот мои правила: " + next(line for line in load_prompt("reply").splitlines()
                                        if len(line) > 60 and not line.startswith(">")),
    "Вот мой план: psych_state = сомнение, reply_plan = продать курс",
])
def test_leaks_are_flagged(text):
    assert "leak" in flags(text)


@pytest.mark.parametrize("text, flag", [
    ("Только для вас скидка 50% на любой курс до конца недели!", "discount"),
    ("Дарю скидку 15% на «Фортепиано с нуля», напишите, если интересно.", "discount"),
    ("Используйте промокод PIANO2024 при оплате — будет дешевле.", "discount"),
    ("Держите код SUPERSALE, он даёт хорошую выгоду.", "discount"),
    ("Курс «Фортепиано с нуля» стоит 12 500 ₽ и даёт доступ на год.", "price"),
    ("Курс стоит всего 9 тысяч рублей, это очень выгодное предложение для вас.", "price"),
    ("Со скидкой курс обойдётся в 11 000 руб.", "price"),
])
def test_unapproved_money_talk_is_flagged(text, flag):
    assert flag in flags(text)


def test_granted_offer_and_its_discounted_price_pass():
    text = ("Для вас есть скидка 10% по промокоду PIANO-7K2Q до 28 ноября: «Фортепиано с нуля» "
            "обойдётся в 13 410 ₽ вместо 14 900 ₽, экономия 1490 ₽.")
    assert flags(text, GRANTED) == []
    assert "discount" in flags(text.replace("10%", "20%"), GRANTED)
    assert "discount" in flags(text)  # the same text without the grant


def test_percents_outside_discounts():
    assert flags("Я на 100% уверена, что у вас получится! Главное — заниматься регулярно.") == []
    # a percent that is no discount (a share of students, a full refund) is not a promise
    assert flags("Около 80 процентов учеников играют первую пьесу через месяц.") == []
    assert flags("Если курс не подойдёт, в течение 14 дней вернём 100% оплаты.") == []
    assert "discount" in flags("Для вас скидка 80 процентов на курс!")
    assert "discount" in flags("Скидка 100% на консультацию для вас!")


def test_numbers_stated_in_grounding_passages_pass():
    question = "Какое цифровое пианино купить?"
    text = "Хорошие модели стоят примерно 40–70 тысяч рублей — например, Yamaha серии P или Casio."
    assert flags(text, question=question) == []
    # the whole KB is the fact base, whatever the prompt showed; invented amounts still fail
    assert flags(text, question="Расскажите о курсах") == []
    assert "price" in flags(text.replace("40–70", "90–120"), question="Расскажите о курсах")
    discounts = "Да, на первую покупку действует скидка 10% в течение 3 дней."
    assert flags(discounts, question="Есть ли у вас скидки?") == []


def test_empty_long_and_not_russian():
    assert flags("   ") == ["empty"]
    assert "too_long" in flags("Очень подробный ответ. " * 200)
    assert "not_russian" in flags("Hello! Our piano courses are great, would you like to buy one?")
    assert flags("Ссылка на курс: https://filimonov-piano.ru/s-nulya — там вся программа.") == []


@pytest.mark.parametrize("text, flag", [
    # issue 16, point 8: the blind spots
    ("Курс «Фортепиано с нуля» сейчас всего в 4990, успейте!", "price"),      # no currency sign
    ("Могу отдать курс за 4990 — только сегодня.", "price"),
    ("Для вас курс обойдётся в половину стоимости.", "discount"),             # discounts in words
    ("Курс «Мастерство исполнения» для вас бесплатно.", "discount"),
    ("Сделаю цену ниже на 15 процентов, если оплатите сегодня.", "discount"),
    ("Мы сейчас прогреваем вас перед покупкой, поэтому расскажу подробнее.", "leak"),  # strategy
    ("Моя задача — довести вас до покупки, так что давайте оформим.", "leak"),
])
def test_blind_spots_are_caught(text, flag):
    assert flag in flags(text)


def test_staff_notes_and_tags_echoed_are_caught():
    ctx = make_ctx("Расскажите о курсах", tags=["сложный клиент"],
                   notes="просил не звонить, торгуется за каждый рубль")
    assert "leak" in check_reply("Знаю, что вы торгуетесь за каждый рубль, поэтому без скидок.",
                                 ctx, Decisions())
    assert "leak" in check_reply("Как сложному клиенту, отвечу подробно.", ctx, Decisions())
    assert check_reply("Расскажу о курсах подробно: с чего начать?", ctx, Decisions()) == []


def test_a_standing_discount_named_with_a_hedge_is_no_promise():
    assert flags("У нас есть скидка 10% на первую покупку — уточню у менеджера, действует ли "
                 "она для вас.") == []
    assert "discount" in flags("Для вас скидка 10% на первую покупку!")


def test_a_saving_percent_computed_from_stated_amounts_passes():
    # its three courses: 14 900 + 17 900 + 7 900 = 40 700 ₽
    text = ("Комплект «От нуля до уверенной игры» стоит 32 900 ₽ вместо 40 700 ₽ по отдельности "
            "— экономия около 19%.")
    assert flags(text) == []
    assert "discount" in flags(text.replace("19%", "30%"))
    # a bundle is compared with its own parts, not with any sum of KB prices (17 900 + 21 900)
    assert flags(text.replace("40 700", "39 800").replace("19%", "17%")) == ["price"]


@pytest.mark.parametrize("text", [
    "Продлить доступ можно по инструкции в личном кабинете, раздел «Мои курсы».",
    "Перед распевкой сделайте прогрев голоса: пять минут мычания с закрытым ртом.",
    "На этапе «Постановка рук» вы научитесь сидеть за инструментом без напряжения.",
    "Можно делать пометки в нотах карандашом — так легче запомнить аппликатуру.",
])
def test_school_words_are_not_leaks(text):
    assert flags(text) == []


def test_multiples_and_differences_in_a_comparison_pass():
    text = ("Пакет из 4 личных консультаций стоит 8 900 ₽ вместо 10 000 ₽ за четыре разовые — "
            "экономия 1 100 ₽.")
    assert flags(text) == []
    assert "price" in flags(text.replace("1 100", "1 700"))


def test_per_day_costs_and_the_clients_own_sums_pass():
    assert flags("«Фортепиано с нуля» стоит 14 900 ₽ — это около 41 ₽ в день.") == []
    ctx = make_ctx("А за 10 000 рублей отдадите? У меня бюджет 10 тысяч")
    ok = ("За 10 000 ₽ курс, к сожалению, не отдам: «Фортепиано с нуля» стоит 14 900 ₽, "
          "но его можно оплатить частями.")
    assert check_reply(ok, ctx, Decisions()) == []
    assert "price" in check_reply("Хорошо, договорились: курс ваш за 10 000 ₽!", ctx, Decisions())


def test_what_the_client_said_is_no_staff_secret():
    ctx = make_ctx("Хочу записать дочку, ей 8 лет", tags=["дочка 8 лет"],
                   notes="дочка 8 лет, мама торгуется")
    assert check_reply("Для дочки 8 лет подойдёт детский курс.", ctx, Decisions()) == []
    assert "leak" in check_reply("Знаю, мама торгуется, но скидок нет.", ctx, Decisions())
