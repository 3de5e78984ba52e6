"""Model faults: 30 % of Gemini calls hang past GEMINI_TIMEOUT_S, answer 429/500 or return
invalid JSON → every client is answered (fallbacks flagged in turn.flags) or escalated
(dialog.needs_human). Prints the split.

    .venv/bin/python bench/chaos_model_faults.py [--quick] [--write] [--rate 0.3]
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from app.brain.guardrails.check import FALLBACK_REPLY  # noqa: E402
from bench.fake_model import CountingVkEmulator, FaultyModel, ScriptedModel, print_table, verdict  # noqa: E402
from bench.harness import bench_args, finish, message_event, post_json, rig, wait_idle  # noqa: E402

RERUN = ".venv/bin/python bench/chaos_model_faults.py --write"
MANAGER = 999


def run(clients: int, rate: float, deadline_s: float) -> tuple[bool, str]:
    t0 = time.monotonic()
    emu = CountingVkEmulator()
    model = FaultyModel(ScriptedModel(), rate=rate, hang_s=3.0)
    with rig(emu, model) as r:
        url = r.url
        gun = r.gunicorn(r.env(GEMINI_TIMEOUT_S=1.5, MANAGER_PEER_IDS=str(MANAGER),
                               WORKER_THREADS=8))
        peers = list(range(600_001, 600_001 + clients))
        texts = ("Здравствуйте! Сколько стоит курс для начинающих?", "Есть ли курс для детей 7 лет?",
                 "Можно ли заниматься на синтезаторе?", "Хочу вернуть деньги за курс")
        with ThreadPoolExecutor(8) as pool:
            statuses = Counter(pool.map(lambda p: post_json(
                gun.url + "/vk/callback",
                message_event(p, texts[p % len(texts)], f"mf-{p}", p))[0], peers))
        engine = create_engine(url)
        wait_idle(engine, deadline_s, 1.0)
        time.sleep(2)
        with engine.connect() as c:
            turns = c.execute(text(
                "select d.peer_id, t.status, t.flags, d.needs_human from turns t "
                "join dialogs d on d.id = t.dialog_id")).all()
        engine.dispose()
        by_peer = {t.peer_id: t for t in turns}
        sent = Counter(m.peer_id for m in emu.sent() if m.peer_id != MANAGER)
        fallback_texts = sum(1 for m in emu.sent() if m.text == FALLBACK_REPLY)
        split: Counter[str] = Counter()
        for p in peers:
            t = by_peer.get(p)
            flags = set((t.flags or []) if t else [])
            if sent.get(p, 0) == 1 and t is not None:
                if "analysis_fallback" in flags and "reply_fallback" in flags:
                    kind = "answered: both stages fell back to offline"
                elif "analysis_fallback" in flags:
                    kind = "answered: analysis fell back to offline"
                elif "reply_fallback" in flags:
                    kind = "answered: reply fell back to offline"
                elif any(f.startswith("guardrail:") for f in flags):
                    kind = "answered: guardrail rewrite"
                else:
                    kind = "answered by the model (after retries if any)"
                if t.needs_human:
                    kind += " + escalated"
            elif t is not None and t.needs_human:
                kind = "not answered, escalated to a human"
            elif sent.get(p, 0) > 1:
                kind = "LOST: more than one reply"
            else:
                kind = "LOST: neither answered nor escalated"
            split[kind] += 1
        lost = sum(n for k, n in split.items() if k.startswith("LOST"))
        rows = [("clients", clients, ""), ("callback statuses", dict(statuses),
                                           verdict(set(statuses) == {200})),
                ("Gemini calls / faulted", f"{model.total} / {sum(model.faults.values())} "
                 f"({sum(model.faults.values()) / max(model.total, 1):.0%})", ""),
                ("faults by kind", dict(model.faults), "")]
        rows += [(f"— {k}", f"{n} ({n / clients:.0%})", "**FAIL**" if k.startswith("LOST") else "")
                 for k, n in sorted(split.items())]
        rows += [("safe FALLBACK_REPLY texts sent", fallback_texts, ""),
                 ("manager notifications sent", sum(1 for m in emu.sent() if m.peer_id == MANAGER), ""),
                 ("answered or escalated", f"{clients - lost} / {clients}", verdict(lost == 0)),
                 ("wall time, s", f"{time.monotonic() - t0:.0f}", "")]
        ok = all(r[2] in ("", "ok") for r in rows)
        table = print_table(f"Model faults: {rate:.0%} of Gemini calls fail (hang 3 s > "
                            "GEMINI_TIMEOUT_S=1.5, 429, 500, invalid JSON)", rows)
        return ok, table


def main() -> int:
    ap = bench_args(__doc__)
    ap.add_argument("--rate", type=float, default=0.3)
    args = ap.parse_args()
    ok, table = run(30 if args.quick else 120, args.rate, 40 if args.quick else 200)
    return finish(ok, args, "Model faults", table, RERUN)


if __name__ == "__main__":
    sys.exit(main())
