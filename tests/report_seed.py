"""Seeded data with known answers for the owner's reports (tests/reports/test_reports*.py).

All times are relative to `now` (the fake clock). The expected figures are written in the
tests by hand from this story, not read back from the code.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from app.models import (
    Client,
    ClientChange,
    Dialog,
    IssuedOffer,
    ManagerAlert,
    Message,
    OfferDecisionLog,
    Purchase,
    Reminder,
    Turn,
)

GEMINI = "gemini-3.5-flash"


class Seeder:
    def __init__(self, s: Any, now: datetime) -> None:
        self.s, self.now = s, now
        self.clients: dict[str, Client] = {}
        self.dialogs: dict[str, Dialog] = {}

    def ago(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours, minutes=minutes)

    def client(self, key: str, vk_id: int, stage: str, name: str = "") -> Client:
        c = Client(vk_id=vk_id, first_name=name, funnel_stage=stage, tags=[])
        self.s.add(c)
        self.s.flush()
        d = Dialog(client_id=c.id, peer_id=vk_id)
        self.s.add(d)
        self.s.flush()
        self.clients[key], self.dialogs[key] = c, d
        return c

    def msg(self, key: str, at: datetime, text: str = "Здравствуйте", direction: str = "in",
            source: str = "client") -> Message:
        m = Message(dialog_id=self.dialogs[key].id, direction=direction, source=source,
                    text=text, created_at=at, attachments=[])
        self.s.add(m)
        self.s.flush()
        return m

    def turn(self, key: str, at: datetime, question: Optional[str] = None, *,
             kb_ids: Optional[list[str]] = None, intent: str = "задаёт вопрос",
             flags: Optional[list[str]] = None, reply: str = "Ответ", usage: Optional[dict] = None,
             escalated: bool = False, analysis: bool = True) -> Turn:
        upto = self.msg(key, at - timedelta(seconds=10), question).id if question else 0
        t = Turn(dialog_id=self.dialogs[key].id, kind="reply", status="done",
                 upto_message_id=upto, started_at=at, finished_at=at,
                 analysis={"intent": intent, "kb_ids": kb_ids or []} if analysis else None,
                 decisions={"escalated": escalated}, reply_text=reply, flags=flags or [],
                 usage=usage or {}, timings={}, brain=GEMINI)
        self.s.add(t)
        self.s.flush()
        return t

    def purchase(self, key: str, order: str, product: str, rub: int, at: datetime) -> None:
        self.s.add(Purchase(order_id=order, client_id=self.clients[key].id, product_id=product,
                            amount_rub=rub, paid_at=at, source="import", created_at=at))

    def offer(self, key: str, offer_id: str, percent: int, at: datetime, redeemed: bool,
              product: Optional[str] = None) -> None:
        self.s.add(IssuedOffer(client_id=self.clients[key].id, offer_id=offer_id,
                               kind="discount", code=f"{offer_id}-{key}".upper(),
                               percent=percent, product_id=product, redeemed=redeemed,
                               created_at=at, expires_at=at + timedelta(days=3)))
        self.s.add(OfferDecisionLog(client_id=self.clients[key].id, requested_id=offer_id,
                                    granted=True, reason="ok", created_at=at))

    def refusal(self, key: str, offer_id: str, at: datetime) -> None:
        self.s.add(OfferDecisionLog(client_id=self.clients[key].id, requested_id=offer_id,
                                    granted=False, reason="не положено", created_at=at))

    def reminder(self, key: str, status: str, agreed: datetime, due: datetime,
                 sent: Optional[datetime] = None, reason: Optional[str] = None) -> None:
        self.s.add(Reminder(client_id=self.clients[key].id, kind="followup", due_at=due,
                            agreed_at=agreed, status=status, status_reason=reason,
                            sent_at=sent, created_at=agreed, updated_at=sent or due))

    def alert(self, key: str, at: datetime, reason: str) -> None:
        self.s.add(ManagerAlert(client_id=self.clients[key].id, reason=reason,
                                day=at.date().isoformat(), sent=True, created_at=at))

    def stage_change(self, key: str, old: str, new: str, at: datetime) -> None:
        self.s.add(ClientChange(client_id=self.clients[key].id, field="funnel_stage",
                                old_value=old, new_value=new, source="turn:1", created_at=at))


SOLFEGE = ("Есть ли у вас занятия по сольфеджио?", "А сольфеджио вы преподаёте?",
           "Учите ли сольфеджио отдельно от фортепиано?")
ABROAD = "Можно ли оплатить курс картой из-за границы?"


def seed_story(s: Any, now: datetime) -> Seeder:
    """Seven clients; see the expected figures in tests/reports/test_reports.py."""
    z = Seeder(s, now)
    z.client("A", 1001, "client", "Анна")
    z.client("B", 1002, "hot", "Борис")
    z.client("C", 1003, "returning", "Вера")
    z.client("D", 1004, "client", "Дина")
    for key, vk in (("E", 1005), ("F", 1006), ("G", 1007)):
        z.client(key, vk, "cold")
    usage = {"analysis": {"model": GEMINI, "prompt_tokens": 1000, "cached_tokens": 400,
                          "output_tokens": 200},
             "reply": {"model": GEMINI, "prompt_tokens": 2000, "output_tokens": 100}}
    # A: wrote, got a 10% discount, bought with it the next day (after a dialog, first purchase)
    z.turn("A", z.ago(10), "Хочу научиться играть, с чего начать?", kb_ids=["piano-from-zero"],
           usage=usage)
    z.offer("A", "first-purchase", 10, z.ago(9.5), redeemed=True, product="piano-from-zero")
    z.purchase("A", "o-a1", "piano-from-zero", 13410, z.ago(9))
    z.stage_change("A", "cold", "client", z.ago(9))
    z.reminder("A", "sent", z.ago(9), z.ago(8), sent=z.ago(8))
    z.turn("A", z.ago(8, hours=-5), "Спасибо, всё получилось", intent="благодарит")
    # B: bought long before writing; an unredeemed discount; a reminder left unanswered (49 h)
    z.purchase("B", "o-b1", "chords-accompaniment", 5000, z.ago(20))
    z.offer("B", "first-purchase", 10, z.ago(6), redeemed=False)
    z.stage_change("B", "cold", "hot", z.ago(6))
    z.reminder("B", "sent", z.ago(8), z.ago(7, hours=1), sent=z.ago(7, hours=1))
    z.msg("B", z.ago(5), "Позовите человека, хочу вернуть деньги")
    z.alert("B", z.ago(5, minutes=-1), "просит человека или возврат")
    z.msg("B", z.ago(5, minutes=-2), "Передаю менеджеру", direction="out", source="bot")
    z.msg("B", z.ago(5, minutes=-31), "Это Ольга из школы", direction="out", source="staff")
    # C: last wrote 80 days ago (outside the attribution window), bought 15 days ago
    z.msg("C", z.ago(80), "Сколько стоит курс?")
    z.purchase("C", "o-c1", "piano-next-step", 7000, z.ago(15))
    # D: an old purchase before the period, then a dialog and a purchase with a 20% code
    z.msg("D", z.ago(45), "Здравствуйте")
    z.purchase("D", "o-d0", "kids-piano", 3000, z.ago(40))
    z.turn("D", z.ago(4), "Есть скидка на мастер-класс?", kb_ids=["birthday"],
           flags=["analysis_fallback"],
           usage={"analysis": {"model": "offline", "prompt_tokens": 0, "output_tokens": 0}})
    z.offer("D", "birthday", 20, z.ago(3.5), redeemed=True)
    z.purchase("D", "o-d1", "masterclass-x", 2000, z.ago(3))
    z.refusal("D", "comeback", z.ago(3))
    z.reminder("D", "skipped", z.ago(5), z.ago(2), reason="клиент уже купил")
    # E, F, G: the same missing question worded three ways, and one more from E
    z.turn("E", z.ago(2), SOLFEGE[0], escalated=True)
    z.turn("F", z.ago(3), SOLFEGE[1], kb_ids=["faq-price"], flags=["kb_no_match"])
    z.turn("G", z.ago(4), SOLFEGE[2], kb_ids=["faq-price"],
           reply="Хороший вопрос! Уточню у коллег и вернусь с ответом.")
    z.turn("E", z.ago(1), ABROAD)
    z.dialogs["E"].needs_human = True
    z.alert("E", z.ago(2), "вопрос без ответа в базе знаний")
    z.reminder("E", "refused", z.ago(3), z.ago(1), reason="VK 901: нет разрешения писать")
    z.reminder("F", "pending", z.ago(1), z.ago(-2))
    # outside the period: an old turn, an old redeemed offer, an old sent reminder
    z.turn("G", z.ago(40), "Старый вопрос про сольфеджио?", usage=usage)
    z.offer("G", "comeback", 10, z.ago(50), redeemed=True, product="piano-from-zero")
    z.reminder("G", "sent", z.ago(61), z.ago(60), sent=z.ago(60))
    s.flush()
    return z
