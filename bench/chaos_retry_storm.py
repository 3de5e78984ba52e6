"""Retry storm: every `message_new` is delivered 5 times (X-Retry-Counter 0..4), interleaved and
concurrent, to the app under gunicorn (2 workers) → exactly one reply per event, no duplicates.

    .venv/bin/python bench/chaos_retry_storm.py [--quick] [--write]
"""
from __future__ import annotations

import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.fake_model import CountingVkEmulator, ScriptedModel, print_table, verdict  # noqa: E402
from bench.harness import bench_args, finish, message_event, post_json, rig  # noqa: E402

RERUN = ".venv/bin/python bench/chaos_retry_storm.py --write"


def run(events: int, copies: int, deadline_s: float) -> tuple[bool, str]:
    t0 = time.monotonic()
    with rig(CountingVkEmulator(), ScriptedModel(delay=(0.0, 0.05))) as r:
        url, vk = r.url, r.vk
        gun = r.gunicorn(r.env(GEMINI_TIMEOUT_S=5, WORKER_THREADS=8), threads=16, log=False)
        peers = list(range(500_001, 500_001 + events))
        bodies = [(message_event(p, f"Здравствуйте! Сколько стоит курс? ({p})", f"storm-{p}",
                                 msg_id=p), i) for p in peers for i in range(copies)]
        rng = random.Random(42)
        rng.shuffle(bodies)
        statuses: Counter[int] = Counter()

        def deliver(item: tuple[dict, int]) -> int:
            body, retry = item
            headers = {"X-Retry-Counter": str(retry)} if retry else {}
            return post_json(gun.url + "/vk/callback", body, headers=headers)[0]

        t_post = time.monotonic()
        with ThreadPoolExecutor(24) as pool:
            for status in pool.map(deliver, bodies):
                statuses[status] += 1
        post_s = time.monotonic() - t_post
        emu = vk.emulator
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and len(emu.sent()) < events:
            time.sleep(0.5)
        time.sleep(3)  # late duplicates would show up here
        sent = emu.sent()
        per_peer = Counter(m.peer_id for m in sent)
        random_ids = Counter((m.peer_id, m.random_id) for m in sent)
        engine = create_engine(url)
        with engine.connect() as c:
            q = lambda sql: c.execute(text(sql)).scalar_one()  # noqa: E731
            db = {"processed_events": q("select count(*) from processed_events"),
                  "inbound": q("select count(*) from messages where direction='in'"),
                  "outbound": q("select count(*) from messages where direction='out'"),
                  "turns": q("select count(*) from turns"),
                  "turns_done": q("select count(*) from turns where status='done'")}
        engine.dispose()
        missing = sum(1 for p in peers if per_peer.get(p, 0) == 0)
        dupes = sum(n - 1 for n in per_peer.values() if n > 1)
        rows = [
            ("deliveries (events × copies)", f"{len(bodies)} ({events} × {copies})", ""),
            ("HTTP statuses", dict(statuses), verdict(set(statuses) == {200})),
            ("posting time, s", f"{post_s:.1f}", ""),
            ("replies accepted by VK", len(sent), verdict(len(sent) == events)),
            ("peers without a reply", missing, verdict(missing == 0)),
            ("extra replies to a peer", dupes, verdict(dupes == 0)),
            ("repeated (peer, random_id) accepted", sum(n - 1 for n in random_ids.values() if n > 1),
             verdict(all(n == 1 for n in random_ids.values()))),
            ("repeat sends dropped by VK", emu.dropped_repeats(), ""),
            ("processed_events / inbound rows", f"{db['processed_events']} / {db['inbound']}",
             verdict(db["processed_events"] == events and db["inbound"] == events)),
            ("turns (done) / outbound rows", f"{db['turns']} ({db['turns_done']}) / {db['outbound']}",
             verdict(db["turns"] == events and db["outbound"] == events)),
            ("wall time, s", f"{time.monotonic() - t0:.0f}", ""),
        ]
        ok = all(r[2] in ("", "ok") for r in rows)
        table = print_table("Retry storm: gunicorn 2 workers × 16 threads, fake Gemini", rows)
        return ok, table


def main() -> int:
    args = bench_args(__doc__).parse_args()
    events = 100 if args.quick else 500
    ok, table = run(events, 5, 40 if args.quick else 200)
    return finish(ok, args, "Retry storm", table, RERUN)


if __name__ == "__main__":
    sys.exit(main())
