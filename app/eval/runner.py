"""Playing scenario dialogs through the real pipeline: POST /vk/callback → inbox → claimed turn
→ brain → channel, one thread per dialog, each dialog on its own virtual clock.

A turn's lines are posted a second apart, then the clock moves past the debounce so they form
one burst, and the dialog's due turn is run in this thread (only this dialog is claimed).
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from sqlalchemy import select

from app.eval.sandbox import EVAL_GROUP_ID, EVAL_SECRET, Lab
from app.eval.scenarios import Attachment, Card, Scenario
from app.models import Client, Dialog, ManagerAlert, Purchase, Turn

if TYPE_CHECKING:
    from flask.testing import FlaskClient

log = logging.getLogger(__name__)
PEER_BASE = 880_000_000  # VK user ids of the simulated clients: PEER_BASE + dialog number
LINE_GAP_S = 1.0  # messages of one burst are a moment apart
BETWEEN_TURNS_S = 90.0  # the client reads the answer and types the next turn
MAX_TURNS_PER_BURST = 4

_message_ids = itertools.count(1)
_ids_lock = threading.Lock()


@dataclass
class DialogRun:
    scenario: Scenario
    peer_id: int
    transcript: list[dict[str, Any]] = field(default_factory=list)  # role, text, burst
    turns: list[dict[str, Any]] = field(default_factory=list)
    error: Optional[str] = None
    handed_over: bool = False  # the dialog ended marked for staff, with a manager alert

    def assistant_texts(self) -> list[str]:
        return [m["text"] for m in self.transcript if m["role"] == "assistant"]


def _next_id() -> int:
    with _ids_lock:
        return next(_message_ids)


class MediaServer:
    """The scenario's files over HTTP on 127.0.0.1, where the pipeline downloads attachments
    from (as it would from VK's hosts)."""

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}
        files = self._files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib
                return

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                path = files.get(self.path.lstrip("/"))
                if path is None:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()

    def url(self, path: Path) -> str:
        key = f"{len(self._files)}{path.suffix.lower()}"
        self._files[key] = path
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}/{key}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def attachment_json(a: Attachment, url: str) -> dict[str, Any]:
    if a.kind == "voice":
        link = "link_mp3" if a.path.suffix.lower() == ".mp3" else "link_ogg"
        voice: dict[str, Any] = {"duration": a.seconds, link: url}
        if a.transcript:
            voice.update(transcript=a.transcript, transcript_state="done")
        return {"type": "audio_message", "audio_message": voice}
    return {"type": "photo", "photo": {"sizes": [{"type": "x", "url": url, "width": 800,
                                                   "height": 600}]}}


def attachment_note(a: Attachment) -> str:
    if a.kind == "voice":
        said = f": «{a.transcript}»" if a.transcript else ""
        return f"[голосовое сообщение {a.seconds // 60}:{a.seconds % 60:02d}{said}]"
    return "[фото]"


def callback_body(peer_id: int, text: str, date: int,
                  attachments: Optional[list[dict[str, Any]]] = None) -> dict[str, Any]:
    mid = _next_id()
    return {"type": "message_new", "group_id": EVAL_GROUP_ID, "event_id": f"eval-{mid}",
            "v": "5.199", "secret": EVAL_SECRET,
            "object": {"message": {"id": mid, "date": date, "peer_id": peer_id,
                                   "from_id": peer_id, "text": text,
                                   "attachments": attachments or [],
                                   "conversation_message_id": mid},
                       "client_info": {"keyboard": True, "inline_keyboard": True,
                                       "button_actions": ["text"]}}}


def _post(lab: Lab, client: FlaskClient, peer_id: int, text: str,
          attachments: Optional[list[dict[str, Any]]] = None) -> None:
    body = callback_body(peer_id, text, int(lab.clock.now().timestamp()), attachments)
    resp = client.post("/vk/callback", data=json.dumps(body, ensure_ascii=False),
                       content_type="application/json")
    if resp.status_code != 200 or resp.get_data(as_text=True) != "ok":
        raise RuntimeError(f"/vk/callback answered {resp.status_code}: "
                           f"{resp.get_data(as_text=True)[:200]}")


def _dialog_id(lab: Lab, peer_id: int) -> Optional[int]:
    with lab.parts.db.session() as s:
        return s.execute(select(Dialog.id).where(Dialog.peer_id == peer_id)).scalar()


def handed_over(lab: Lab, dialog_id: Optional[int]) -> bool:
    """A person was called: the dialog is marked for staff and a manager alert was recorded."""
    if dialog_id is None:
        return False
    with lab.parts.db.session() as s:
        dialog = s.get(Dialog, dialog_id)
        assert dialog is not None, f"dialog {dialog_id}: the run's dialog exists"
        alert = s.execute(select(ManagerAlert.id).where(
            ManagerAlert.client_id == dialog.client_id).limit(1)).first()
        return bool(dialog.needs_human) and alert is not None


def run_due_turns(lab: Lab, dialog_id: int) -> int:
    """Run this dialog's due turns in this thread; returns how many ran."""
    turns, ran = lab.parts.turns, 0
    for _ in range(MAX_TURNS_PER_BURST):
        claim = turns.claims.next(dialog_id=dialog_id)
        if claim is None:
            break
        turns.process(claim)
        ran += 1
    return ran


def turn_record(turn: Turn, burst: int) -> dict[str, Any]:
    return {"burst": burst, "status": str(turn.status), "analysis": turn.analysis or {},
            "decisions": turn.decisions or {}, "flags": list(turn.flags or []),
            "usage": turn.usage or {}, "prompt_version": turn.prompt_version,
            "brain": turn.brain, "error": turn.error}


def _new_turns(lab: Lab, dialog_id: int, seen: set[int], burst: int) -> list[dict[str, Any]]:
    with lab.parts.db.session() as s:
        rows = s.execute(select(Turn).where(Turn.dialog_id == dialog_id, Turn.id.not_in(seen))
                         .order_by(Turn.id)).scalars().all()
        seen.update(t.id for t in rows)
        return [turn_record(t, burst) for t in rows]


def seed_card(lab: Lab, peer_id: int, card: Card) -> None:
    """The client as the scenario's card describes them, before their first message: a name,
    and purchases whose access ends on the given dates."""
    kb = lab.parts.kb_store.current
    now = lab.clock.now()
    first, _, last = card.name.partition(" ")
    with lab.parts.db.session() as s:
        client = Client(vk_id=peer_id, first_name=first, last_name=last, names_fetched_at=now,
                        funnel_stage="client" if card.purchases else "cold")
        s.add(client)
        s.flush()
        for i, p in enumerate(card.purchases):
            product = next((x for x in kb.products if x.id == p.product), None)
            if product is None:
                raise ValueError(f"card: no product {p.product!r} in the KB")
            paid = _at_noon(p.paid) if p.paid else None
            if p.access_until is not None and product.access_days:
                paid = paid or _at_noon(p.access_until) - timedelta(days=product.access_days)
            s.add(Purchase(order_id=f"eval-{peer_id}-{i}", client_id=client.id,
                           product_id=product.id, amount_rub=product.price_rub, source="staff",
                           paid_at=paid or now - timedelta(days=30)))


def _at_noon(d: date) -> datetime:
    return datetime.combine(d, time(12, 0), tzinfo=timezone.utc)


def play_dialog(lab: Lab, scenario: Scenario, peer_id: int,
                media: Optional[MediaServer] = None) -> DialogRun:
    run = DialogRun(scenario=scenario, peer_id=peer_id)
    lab.clock.begin()
    client, seen = lab.app.test_client(), set()  # type: ignore[var-annotated]
    debounce = lab.settings.debounce_seconds
    try:
        if scenario.card is not None:
            seed_card(lab, peer_id, scenario.card)
        for n, burst in enumerate(scenario.bursts()):
            extra = scenario.extra(n)
            if extra.gap_hours is not None:  # the pause before this turn, in all
                lab.clock.advance(max(0.0, extra.gap_hours * 3600 - (BETWEEN_TURNS_S if n else 0)))
            lines = burst or [""]  # a turn of attachments only: one message without text
            for i, line in enumerate(lines):
                if i:
                    lab.clock.advance(LINE_GAP_S)
                files = extra.attachments if i == len(lines) - 1 else ()
                if files and media is None:
                    raise RuntimeError("attachments need the lab's media server")
                _post(lab, client, peer_id, line,
                      [attachment_json(a, media.url(a.path)) for a in files] if media else None)
                text = " ".join([line, *(attachment_note(a) for a in files)]).strip()
                run.transcript.append({"role": "client", "text": text, "burst": n})
            lab.clock.advance(debounce + 1)
            sent_before = len(lab.channel.texts(peer_id))
            dialog_id = _dialog_id(lab, peer_id)
            if dialog_id is not None:
                run_due_turns(lab, dialog_id)
                run.turns += _new_turns(lab, dialog_id, seen, n)
            for text in lab.channel.texts(peer_id)[sent_before:]:
                run.transcript.append({"role": "assistant", "text": text, "burst": n})
            lab.clock.advance(BETWEEN_TURNS_S)
        run.handed_over = handed_over(lab, _dialog_id(lab, peer_id))
    except Exception as exc:  # noqa: BLE001 - one broken dialog is reported, the run goes on
        log.exception("eval dialog %s failed", scenario.id)
        run.error = f"{type(exc).__name__}: {exc}"[:500]
    return run


def play_all(lab: Lab, scenarios: list[Scenario], concurrency: int,
             on_done: Optional[Callable[[DialogRun], None]] = None) -> list[DialogRun]:
    """Every dialog, `concurrency` at a time; results in the scenarios' order."""
    runs: dict[int, DialogRun] = {}
    needs_media = any(a for sc in scenarios for e in sc.extras for a in e.attachments)
    media = MediaServer() if needs_media else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency),
                                thread_name_prefix="eval-dialog") as pool:
            futures = {pool.submit(play_dialog, lab, sc, PEER_BASE + i + 1, media): i
                       for i, sc in enumerate(scenarios)}
            for future in as_completed(futures):
                run = future.result()
                runs[futures[future]] = run
                if on_done is not None:
                    on_done(run)
    finally:
        if media is not None:
            media.stop()
    return [runs[i] for i in range(len(scenarios))]
