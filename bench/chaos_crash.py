"""Crash safety: `kill -9` of the whole gunicorn group or of one worker at random moments during
bursts of messages, restarting on the same database → every turn answered exactly once, every
reminder (inserted due during the run) sent exactly once.

VK's retry is emulated: a delivery that got no "ok" (server dead) is delivered again later with
X-Retry-Counter. CLAIM_TIMEOUT_S is 5 s so that turns (and the reminder claims, which follow
the same lease) of killed processes are taken again fast. `--quick` also fast-forwards reminders
stuck in "sending" for 15 s (moves their `claimed_until` to now).

    .venv/bin/python bench/chaos_crash.py [--quick] [--write] [--seed N]
"""
from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from app.turns.pipeline import turn_random_id  # noqa: E402
from bench.fake_model import CountingVkEmulator, ScriptedModel, print_table, verdict  # noqa: E402
from bench.harness import Gunicorn, bench_args, finish, message_event, post_json, rig  # noqa: E402

RERUN = ".venv/bin/python bench/chaos_crash.py --write"
REMINDER_PEERS = list(range(700_001, 700_013))


class Deliveries:
    """What VK would deliver: each event until it was answered 200 "ok"."""

    def __init__(self) -> None:
        self.pending: list[tuple[dict, int]] = []  # (body, attempts so far)
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.msg_id = 1_000
        self.event_n = 0

    def new(self, peer: int, text_: str) -> None:
        with self.lock:
            self.msg_id += 1
            self.event_n += 1
            self.pending.append((message_event(peer, text_, f"crash-{self.event_n}", self.msg_id), 0))

    def flush(self, url: str, stop_at: float = float("inf")) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        left: list[tuple[dict, int]] = []
        for i, (body, tries) in enumerate(batch):
            if time.monotonic() > stop_at:
                left.extend(batch[i:])
                break
            headers = {"X-Retry-Counter": str(tries)} if tries else {}
            try:
                status, _ = post_json(url + "/vk/callback", body, headers=headers, timeout=5)
            except OSError:
                status = 0
            self.statuses[str(status or "no answer")] += 1
            if status != 200:
                left.append((body, tries + 1))
        with self.lock:
            self.pending = left + self.pending


def _q(engine: Any, sql: str, **kw: Any) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql), kw).all()


def seed_reminders(engine: Any, due_in: list[float]) -> list[int]:
    """One pending follow-up per reminder peer (their clients exist), due at now + due_in[i]."""
    now = datetime.now(timezone.utc)
    ids = []
    with engine.begin() as c:
        for peer, d in zip(REMINDER_PEERS, due_in, strict=False):
            cid = c.execute(text("select id from clients where vk_id=:p"), {"p": peer}).scalar_one()
            ids.append(c.execute(text(
                "insert into reminders (client_id, kind, due_at, agreed_at, status, is_default, "
                "source_text, context, dedupe_key, created_at, updated_at) values (:c, 'followup', "
                ":due, :agreed, 'pending', false, 'напишите через минуту', 'обсудить расписание', "
                ":key, :agreed, :agreed) returning id"),
                {"c": cid, "due": now + timedelta(seconds=d), "agreed": now - timedelta(seconds=1),
                 "key": f"chaos-{peer}"}).scalar_one())
    return ids


def settled(engine: Any) -> bool:
    rows = _q(engine, """
        select
          (select count(*) from turns where status = 'running'),
          (select count(*) from dialogs where reply_due_at is not null),
          (select count(*) from dialogs d where exists (select 1 from messages m where
              m.dialog_id = d.id and m.direction = 'in' and m.id > d.answered_upto_id)),
          (select count(*) from reminders where status in ('pending', 'sending'))""")
    return all(v == 0 for v in rows[0])


def run(rounds: int, burst: int, quick: bool, seed: int) -> tuple[bool, str]:
    t0 = time.monotonic()
    rng = random.Random(seed)
    emu = CountingVkEmulator()
    kills: Counter[str] = Counter()
    fast_forwarded = 0
    with rig(emu, ScriptedModel(delay=(0.2, 1.2), seed=seed)) as r:
        url, log_path = r.url, str(r.log_path)
        engine = create_engine(url)
        env = r.env(GEMINI_TIMEOUT_S=5, CLAIM_TIMEOUT_S=5, DEBOUNCE_SECONDS=0.5,
                    WORKER_THREADS=6, WORKER_POLL_S=0.2)

        def start() -> Gunicorn:
            return r.gunicorn(env)

        gun = start()
        dl = Deliveries()
        for p in REMINDER_PEERS:
            dl.new(p, "Здравствуйте! Напишите мне через минуту, пожалуйста")
        dl.flush(gun.url)
        end = time.monotonic() + 30
        while time.monotonic() < end and not settled(engine):
            time.sleep(0.3)
        spread = rounds * 4.0
        reminder_ids = seed_reminders(engine, [rng.uniform(0, spread) for _ in REMINDER_PEERS])
        peers: list[int] = []
        next_peer = 800_001
        modes = ["group", "worker"] * (rounds // 2) + ["group"] * (rounds % 2)
        rng.shuffle(modes)
        for rnd in range(rounds):
            for _ in range(burst):
                if peers and rng.random() < 0.3:
                    peer = rng.choice(peers)
                else:
                    peer, next_peer = next_peer, next_peer + 1
                    peers.append(peer)
                dl.new(peer, rng.choice(("Здравствуйте! Сколько стоит курс?",
                                         "А есть занятия для детей?", "Мне 35, с нуля можно?")))
            poster = threading.Thread(target=dl.flush, args=(gun.url, time.monotonic() + 6))
            poster.start()
            time.sleep(rng.uniform(0.3, 2.5))
            mode = modes[rnd]
            if mode == "worker" and gun.worker_pids():
                victim = rng.choice(gun.worker_pids())
                os.kill(victim, signal.SIGKILL)
            else:
                mode = "group"
                gun.kill9()
            kills[mode] += 1
            poster.join(10)
            if mode == "group":
                gun = start()
            else:
                time.sleep(1.0)  # the master forks a new worker
        if gun.proc is None or gun.proc.poll() is not None:
            gun = start()
        for _ in range(5):
            dl.flush(gun.url)
            if not dl.pending:
                break
            time.sleep(1)
        wait_s = 170 if not quick else 40
        end = time.monotonic() + wait_s
        while time.monotonic() < end and not settled(engine):
            if quick:
                with engine.begin() as c:
                    fast_forwarded += c.execute(text(
                        "update reminders set claimed_until = now() - interval '1 second' "
                        "where status = 'sending' and claimed_until > now() "
                        "and updated_at < now() - interval '15 seconds'")).rowcount
            time.sleep(1)
        time.sleep(2)
        # ---- checks
        sent = emu.sent()
        accepted = Counter((m.peer_id, m.random_id) for m in sent)
        turns = _q(engine, "select t.id, t.kind, t.status, t.reminder_id, t.attempts, d.peer_id, "
                           "t.flags from turns t join dialogs d on d.id = t.dialog_id")
        status_count = Counter(t.status for t in turns)
        per_turn_missing = [t.id for t in turns if t.status == "done"
                            and accepted.get((t.peer_id, turn_random_id(t.id)), 0) != 1]
        done = sum(1 for t in turns if t.status == "done")
        unanswered = _q(engine, """select d.peer_id from dialogs d where exists (select 1 from
            messages m where m.dialog_id = d.id and m.direction = 'in'
            and m.id > d.answered_upto_id)""")
        give_ups = [t.id for t in turns if t.status == "failed"]
        rem = _q(engine, "select id, status, fired_turn_id, status_reason from reminders "
                         "where id = any(:ids)", ids=reminder_ids)
        rem_turns = Counter(t.reminder_id for t in turns if t.reminder_id)
        rem_sent_once = sum(1 for r in rem if r.status == "sent" and rem_turns[r.id] == 1 and
                            accepted.get((REMINDER_PEERS[reminder_ids.index(r.id)],
                                          turn_random_id(r.fired_turn_id)), 0) == 1)
        extra = len(sent) - done
        inbound = _q(engine, "select count(*) from messages where direction='in'")[0][0]
        max_attempts = max((t.attempts for t in turns), default=0)
        tracebacks = Path(log_path).read_text(errors="replace").count("Traceback")
        rows = [
            ("kills (group / worker)", f"{kills['group']} / {kills['worker']}", ""),
            ("events delivered (statuses incl. retries)", f"{dl.event_n} {dict(dl.statuses)}", ""),
            ("events never accepted", len(dl.pending), verdict(not dl.pending)),
            ("inbound messages stored", inbound, verdict(inbound == dl.event_n)),
            ("turns by status", dict(status_count),
             verdict(set(status_count) <= {"done"})),
            ("dialogs with unanswered messages", len(unanswered), verdict(not unanswered)),
            ("done turns without exactly one accepted VK message", len(per_turn_missing),
             verdict(not per_turn_missing)),
            ("accepted VK messages − done turns", extra, verdict(extra == 0)),
            ("repeat sends dropped by VK (same random_id)", emu.dropped_repeats(), ""),
            ("max attempts of a turn", max_attempts, ""),
            ("reminders sent exactly once", f"{rem_sent_once} / {len(rem)}",
             verdict(rem_sent_once == len(rem))),
            ("reminders by status", dict(Counter(r.status for r in rem)), ""),
            ("reminder claims fast-forwarded (quick mode)", fast_forwarded, ""),
            ("tracebacks in gunicorn log", tracebacks, ""),
            ("wall time, s", f"{time.monotonic() - t0:.0f}", ""),
        ]
        if give_ups:
            delivered = [t.id for t in turns if t.status == "failed"
                         and accepted.get((t.peer_id, turn_random_id(t.id)), 0) == 1]
            rows.insert(5, ("turns given up (dialog handed to a human); their reply was "
                            "delivered anyway", f"{len(give_ups)}; {len(delivered)}", "**FAIL**"))
        ok = all(r[2] in ("", "ok") for r in rows)
        table = print_table(f"Crash safety: {rounds} kill -9 rounds, bursts of {burst}, "
                            "gunicorn 2 workers, CLAIM_TIMEOUT_S=5", rows)
        engine.dispose()
        return ok, table


def main() -> int:
    ap = bench_args(__doc__)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    ok, table = run(3 if args.quick else 10, 15 if args.quick else 30, args.quick, args.seed)
    return finish(ok, args, "Crash safety", table, RERUN)


if __name__ == "__main__":
    sys.exit(main())
