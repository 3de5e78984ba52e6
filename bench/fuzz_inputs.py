"""Bad input: fuzzed VK callback bodies against gunicorn, a fuzzed knowledge_base.json against
`load_kb`, and (when `app.crm.purchases.store.import_csv` exists) fuzzed purchase CSVs.

Callback: 0 answers ≥ 500, the app alive (healthz 200) afterwards, nothing stored for bodies
refused for a wrong secret or group_id. KB: only `KnowledgeBaseError` (lines `path: reason`)
or a successful load. CSV: per-line errors in the report, never an exception.

    .venv/bin/python bench/fuzz_inputs.py [--quick] [--write] [--seed N]
"""
from __future__ import annotations

import copy
import http.client
import io
import json
import random
import re
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.fake_model import CountingVkEmulator, print_table, verdict  # noqa: E402
from bench.harness import BenchPostgres, bench_args, finish, rig  # noqa: E402

RERUN = ".venv/bin/python bench/fuzz_inputs.py --write"
SECRET = "bench-secret"
REFUSED_MARK = "REFUSEDMARK"
REFUSED_PEERS = (9_000_000, 9_999_999)

# ---------------------------------------------------------------------------- callback bodies


def valid(rng: random.Random, n: int) -> dict[str, Any]:
    peer = 3_000_000 + n
    return {"type": "message_new", "group_id": 1, "event_id": f"fz-{n}", "v": "5.199",
            "secret": SECRET,
            "object": {"message": {"id": 50_000 + n, "date": 1764070000, "peer_id": peer,
                                   "from_id": peer, "text": "Здравствуйте, сколько стоит курс?",
                                   "attachments": [], "conversation_message_id": n},
                       "client_info": {"keyboard": True}}}


WEIRD = [None, True, False, 0, -1, 1.5, 2**63, -2**63, 10**30, "", "abc", "12", " 12 ", [], [1],
         {}, {"a": 1}, "\u0000", "\ud800", "😀" * 10, "x" * 5000, 1e308]
PATHS = [("type",), ("group_id",), ("event_id",), ("secret",), ("object",),
         ("object", "message"), ("object", "client_info"), ("object", "message", "id"),
         ("object", "message", "peer_id"), ("object", "message", "from_id"),
         ("object", "message", "text"), ("object", "message", "date"),
         ("object", "message", "attachments"), ("object", "message", "random_id"),
         ("object", "message", "conversation_message_id"), ("object", "message", "admin_author_id")]


def _set(body: dict, path: tuple[str, ...], value: Any) -> None:
    node = body
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _del(body: dict, path: tuple[str, ...]) -> None:
    node: Any = body
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def enc(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def gen_bodies(count: int, seed: int) -> list[tuple[str, bytes, bool]]:
    """(category, raw body, refused_by_auth) — refused ones must leave no trace."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes, bool]] = []
    for n in range(count):
        b = valid(rng, n)
        cat = rng.choice(["wrong_type", "wrong_type", "missing", "huge", "deep", "utf8",
                          "wrong_secret", "wrong_group", "non_object", "numbers", "nan",
                          "dup_keys", "other_type", "nul", "garbage"])
        refused = False
        if cat == "wrong_type":
            for _ in range(rng.randint(1, 3)):
                _set(b, rng.choice(PATHS), copy.deepcopy(rng.choice(WEIRD)))
            raw = enc(b)
        elif cat == "missing":
            for _ in range(rng.randint(1, 3)):
                _del(b, rng.choice(PATHS))
            raw = enc(b)
        elif cat == "huge":
            where = rng.choice([("object", "message", "text"), ("event_id",), ("type",),
                                ("secret",), ("object", "client_info")])
            size = rng.choice([4097, 20_001, 200_000, 300_000, 1_000_000])
            _set(b, where, "я" * size if where[-1] != "client_info" else {"k": "v" * size})
            raw = enc(b)
        elif cat == "deep":
            depth = rng.choice([100, 1000, 50_000, 120_000])
            if rng.random() < 0.5:
                raw = ("[" * depth + "]" * depth).encode()
            else:
                raw = enc(b)[:-1] + b', "deep": ' + b"{\"a\":" * depth + b"1" + b"}" * depth + b"}"
        elif cat == "utf8":
            raw = enc(b)
            i = raw.find("Здравствуйте".encode())
            raw = raw[:i] + rng.choice([b"\xff\xfe", b"\xd0", b"\xc3\x28", b"\xed\xa0\x80",
                                        b"\xf8\x88\x80\x80\x80"]) + raw[i + 1:]
        elif cat in ("wrong_secret", "wrong_group"):
            refused = True
            peer = rng.randint(*REFUSED_PEERS)
            _set(b, ("object", "message", "peer_id"), peer)
            _set(b, ("object", "message", "from_id"), peer)
            _set(b, ("object", "message", "text"), f"{REFUSED_MARK} привет")
            b["event_id"] = f"refused-{n}"
            if cat == "wrong_secret":
                b["secret"] = rng.choice(["", "bench-secreT", "bench-secret ", SECRET + "x",
                                          None, "бенч", 0])
                if b["secret"] is None:
                    del b["secret"]
            else:
                b["group_id"] = rng.choice([2, 0, -1, "2", 10**12])
            raw = enc(b)
        elif cat == "non_object":
            raw = rng.choice([b"[]", b'"message_new"', b"1", b"null", b"true", b"[{}]", b"1e999",
                              b'[{"type": "message_new"}]', b'""'])
        elif cat == "numbers":
            big = rng.choice(["1" + "0" * 400, "-" + "9" * 5000, "1e400", "-1e400", "1.0e-400",
                              "9223372036854775808", "123.000001"])
            raw = enc(b).replace(b'"peer_id": ' + str(b["object"]["message"]["peer_id"]).encode(),
                                 b'"peer_id": ' + big.encode())
            if rng.random() < 0.3:
                raw = raw.replace(b'"group_id": 1', b'"group_id": ' + big.encode())
        elif cat == "nan":
            raw = enc(b).replace(b'"date": 1764070000', rng.choice(
                [b'"date": NaN', b'"date": Infinity', b'"date": -Infinity']))
            if rng.random() < 0.5:
                raw = raw.replace(b'"group_id": 1', b'"group_id": NaN')
        elif cat == "dup_keys":
            base = enc(b)[:-1]
            extra = rng.choice([b', "secret": "wrong"', b', "type": "confirmation"',
                                b', "object": []', b', "event_id": "fz-0"', b', "group_id": 1'])
            raw = base + extra + b"}"
            if extra == b', "secret": "wrong"':
                refused = True
                raw = raw.replace(b'"event_id": "fz-', b'"event_id": "refused-')
                raw = raw.replace("Здравствуйте".encode(), REFUSED_MARK.encode())
                raw = raw.replace(str(3_000_000 + n).encode(), str(REFUSED_PEERS[0] + n).encode())
        elif cat == "other_type":
            b["type"] = rng.choice(["confirmation", "message_reply", "message_allow",
                                    "message_deny", "message_edit", "wall_post_new", "x" * 64,
                                    "message_typing_state"])
            if rng.random() < 0.5:
                b["object"] = rng.choice([None, [], "x", {"user_id": "abc"}, {"id": 1}])
            raw = enc(b)
        elif cat == "nul":
            where = rng.choice([("object", "message", "text"), ("event_id",), ("type",),
                                ("secret",)])
            val = rng.choice(["при\u0000вет", "\ud83d", "a\udfffb", "\u0000"])
            _set(b, where, val)
            raw = enc(b)
        else:
            raw = rng.choice([b"", b"not json", b"{", b"{'type': 'message_new'}", b"\x00" * 10,
                              enc(b)[: rng.randint(1, 100)]])
        out.append((cat, raw, refused))
    return out


def post_raw(port: int, raw: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/vk/callback", body=raw,
                     headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return -1
    finally:
        conn.close()


def fuzz_callback(count: int, seed: int) -> tuple[list[tuple[str, Any, str]], list[str]]:
    notes: list[str] = []
    with rig(CountingVkEmulator()) as r:
        url, log_path = r.url, r.log_path
        gun = r.gunicorn(r.env(WORKER_THREADS=4, DEBOUNCE_SECONDS=0.5))
        bodies = gen_bodies(count, seed)
        t0 = time.monotonic()
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda item: post_raw(gun.port, item[1]), bodies))
        took = time.monotonic() - t0
        by_status = Counter(statuses)
        five = Counter(cat for (cat, _, _), st in zip(bodies, statuses, strict=True) if st >= 500 or st < 0)
        for (cat, raw, _), st in zip(bodies, statuses, strict=True):
            if (st >= 500 or st < 0) and len(notes) < 6:
                notes.append(f"{st} {cat}: {raw[:160]!r}")
        refused_ok = Counter(st for (_, _, refused), st in zip(bodies, statuses, strict=True) if refused)
        time.sleep(3)  # let the workers chew on what was accepted
        try:
            with urllib.request.urlopen(gun.url + "/healthz", timeout=5) as r:
                health = r.status
        except OSError as exc:
            health = getattr(exc, "code", -1)
        engine = create_engine(url)
        with engine.connect() as c:
            leaked = c.execute(text(
                "select (select count(*) from clients where vk_id between :a and :b),"
                " (select count(*) from messages where text like :m),"
                " (select count(*) from processed_events where event_id like 'refused-%')"),
                {"a": REFUSED_PEERS[0], "b": REFUSED_PEERS[1], "m": f"%{REFUSED_MARK}%"}).one()
            stored = c.execute(text("select (select count(*) from processed_events), "
                                    "(select count(*) from messages where direction='in')")).one()
        engine.dispose()
        alive = gun.proc.poll() is None
        tracebacks = log_path.read_text(errors="replace").count("Traceback")
        rows = [("callback bodies", f"{count} in {took:.1f} s", ""),
                ("statuses", dict(sorted(by_status.items())), ""),
                ("5xx / no answer", sum(five.values()), verdict(not five)),
                ("5xx by category", dict(five) or "-", ""),
                ("refused bodies (wrong secret/group) → statuses", dict(refused_ok),
                 verdict(set(refused_ok) <= {400, 403})),
                ("rows stored for refused bodies (clients, messages, events)", tuple(leaked),
                 verdict(tuple(leaked) == (0, 0, 0))),
                ("accepted events / inbound messages stored", tuple(stored), ""),
                ("gunicorn alive, healthz", f"{alive}, {health}", verdict(alive and health == 200)),
                ("tracebacks in gunicorn log", tracebacks, verdict(tracebacks == 0))]
        if tracebacks:
            txt = log_path.read_text(errors="replace")
            errs = Counter(re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception)[^\n]{0,120})", txt, re.M))
            notes += [f"log: {n}× {e}" for e, n in errs.most_common(5)]
        return rows, notes


# ---------------------------------------------------------------------------- knowledge base

def kb_mutations(rng: random.Random, base: dict, n: int) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    good = json.dumps(base, ensure_ascii=False).encode()

    def leaves(node: Any, path: tuple = ()) -> list[tuple]:
        found = [path] if path else []
        if isinstance(node, dict):
            for k, v in node.items():
                found += leaves(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                found += leaves(v, path + (i,))
        return found

    paths = leaves(base)

    def at(d: Any, path: tuple) -> tuple[Any, Any]:
        for k in path[:-1]:
            d = d[k]
        return d, path[-1]

    for i in range(n):
        d = copy.deepcopy(base)
        cat = rng.choice(["wrong_type", "missing", "unknown", "dup_id", "discount_cap",
                          "broken_json", "huge", "deep", "numbers", "nan", "non_object",
                          "encoding", "empty_lists", "cross_refs"])
        if cat == "wrong_type":
            for _ in range(rng.randint(1, 4)):
                parent, key = at(d, rng.choice(paths))
                try:
                    parent[key] = copy.deepcopy(rng.choice(WEIRD[:17]))
                except (KeyError, IndexError, TypeError):
                    pass
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "missing":
            for _ in range(rng.randint(1, 3)):
                parent, key = at(d, rng.choice(paths))
                try:
                    del parent[key]
                except (KeyError, IndexError, TypeError):
                    pass
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "unknown":
            parent, _ = at(d, rng.choice([p for p in paths if len(p) > 1]))
            if isinstance(parent, dict):
                parent["unexpected_field_" + str(i)] = "x"
            else:
                d["unknown_top"] = 1
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "dup_id":
            section = rng.choice(["products", "faq"])
            if d.get(section):
                d[section].append(copy.deepcopy(rng.choice(d[section])))
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "discount_cap":
            disc = d["offers"]["discounts"]
            rng.choice(disc)["percent"] = rng.choice([21, 50, 90, 100, 101, -5, 0])
            if rng.random() < 0.3:
                d["offers"]["max_discount_percent"] = rng.choice([150, -1, 0, "20"])
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "broken_json":
            cut = rng.randint(1, len(good) - 1)
            raw = rng.choice([good[:cut], good[:cut] + b"}}}", good.replace(b",", b"", 1),
                              good.replace(b'"', b"'", 3), b"", b"   ", good + b"garbage"])
        elif cat == "huge":
            size = rng.choice([5, 20, 60]) * 1_000_000
            d["faq"][0]["answer"] = "я" * (size // 2)
            raw = json.dumps(d, ensure_ascii=False).encode()
        elif cat == "deep":
            depth = rng.choice([1000, 100_000])
            raw = good[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
        elif cat == "numbers":
            raw = good.replace(b'"percent": 10', b'"percent": ' + rng.choice(
                [b"1" + b"0" * 5000, b"1e999", b"-1e999", b"10.5", b"1" + b"0" * 30]), 1)
        elif cat == "nan":
            raw = good.replace(b'"percent": 15', rng.choice(
                [b'"percent": NaN', b'"percent": Infinity']), 1)
            raw = raw.replace(b'"max_discount_percent": 20',
                              rng.choice([b'"max_discount_percent": NaN',
                                          b'"max_discount_percent": 20']))
        elif cat == "non_object":
            raw = rng.choice([b"[]", b"null", b"1", b'"kb"', json.dumps([base]).encode()])
        elif cat == "encoding":
            raw = rng.choice([good.decode().encode("utf-16"), good.decode().encode("cp1251", "replace"),
                              b"\xef\xbb\xbf" + good, good[:100] + b"\xff" + good[100:],
                              good.replace("а".encode(), b"\x00", 1)])
        elif cat == "empty_lists":
            for k in rng.sample(["products", "faq"], rng.randint(1, 2)):
                d[k] = rng.choice([[], None, {}])
            raw = json.dumps(d, ensure_ascii=False).encode()
        else:
            # references to ids that do not exist, e.g. in offer conditions or bundles
            for p in rng.sample(paths, 3):
                parent, key = at(d, p)
                if isinstance(parent[key], str) and re.fullmatch(r"[a-z0-9-]+", parent[key]):
                    parent[key] = parent[key] + "-missing"
            raw = json.dumps(d, ensure_ascii=False).encode()
        out.append((cat, raw))
    return out


LINE_RE = re.compile(r"^\S[^\n]*?: \S")


def fuzz_kb(n: int, seed: int) -> tuple[list[tuple[str, Any, str]], list[str]]:
    from app.knowledge.base import KnowledgeBaseError, load_kb

    rng = random.Random(seed)
    base = json.loads((ROOT / "knowledge_base.json").read_text(encoding="utf-8"))
    results: Counter[str] = Counter()
    other: Counter[str] = Counter()
    bad_lines = 0
    notes: list[str] = []
    accepted_over_cap = 0
    with tempfile.TemporaryDirectory(prefix="kbfuzz-") as tmp:
        path = Path(tmp) / "knowledge_base.json"
        for cat, raw in kb_mutations(rng, base, n):
            path.write_bytes(raw)
            try:
                kb = load_kb(path)
                results["loaded (mutation still valid)"] += 1
                cap = kb.max_discount_percent
                if any(dd.percent > cap or dd.percent <= 0 for dd in kb.data.offers.discounts):
                    accepted_over_cap += 1
            except KnowledgeBaseError as exc:
                results["KnowledgeBaseError"] += 1
                for line in exc.errors:
                    if not LINE_RE.match(line):
                        bad_lines += 1
                        if len(notes) < 3:
                            notes.append(f"kb {cat}: error line without `path: reason`: {line[:120]!r}")
            except Exception as exc:  # noqa: BLE001 - that is what we look for
                name = f"{cat} → {type(exc).__name__}"
                other[name] += 1
                if other[name] == 1:
                    notes.append(f"kb {cat}: {type(exc).__name__}: {str(exc)[:150]}")
    rows = [("KB mutations", n, ""),
            ("outcomes", dict(results), ""),
            ("other exceptions", sum(other.values()), verdict(not other)),
            ("other exceptions by mutation", dict(other) or "-", ""),
            ("error lines not `path: reason`", bad_lines, verdict(bad_lines == 0)),
            ("loaded with a discount above the cap", accepted_over_cap, verdict(accepted_over_cap == 0))]
    return rows, notes


# ---------------------------------------------------------------------------- purchases CSV

def fuzz_csv(n: int, seed: int) -> tuple[list[tuple[str, Any, str]], list[str]]:
    try:
        from app.crm.purchases.store import import_csv
    except ImportError:
        return [("purchases CSV", "skipped: app.crm.purchases.store.import_csv not found", "")], []
    from app.knowledge.base import load_kb

    kb = load_kb(ROOT / "knowledge_base.json")
    rng = random.Random(seed)
    pg = BenchPostgres()
    notes: list[str] = []
    other: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    no_line = 0
    try:
        url = pg.fresh_database()
        from sqlalchemy.orm import sessionmaker

        engine = create_engine(url)
        Session = sessionmaker(engine)
        header = "order_id,vk_id,email,phone,product_id,amount_rub,paid_at"
        good = ["o-{i},{vk},a{i}@mail.test,+7900{ph},piano-from-zero,14900,2026-11-01",
                "o-{i}x,{vk},,,piano-next-step:extension,4900,2026-11-01T10:00:00+03:00"]
        junk = ["", ",,,,,,", "a,b", "o-1," + "9" * 5000 + ",,,,1,2026-01-01",
                'o-"q,1,,,piano-from-zero,1,2026-01-01', "\x00,\x00",
                "o-n,1,,,piano-from-zero,NaN,2026-13-45",
                "o-m,-1,x@,+,nope,-5,yesterday", "o-l,1,,,piano-from-zero,1e9,2026-01-01",
                "😀,😀,😀,😀,😀,😀,😀", "o-k,1,,,piano-from-zero,14900,2026-01-01,extra,cols",
                "o-j,1.5,,,piano-from-zero,14 900,01.11.2026", "o-i,abc,,,,,", ";;;;;;",
                "o-h,1,,,piano-from-zero,14900," + "2026-01-01T" + "9" * 300]
        for i in range(n):
            rows = [rng.choice(good).format(i=f"{i}-{j}", vk=rng.randint(1, 10**6),
                                            ph=f"{rng.randint(0, 9999999):07d}")
                    if rng.random() < 0.4 else rng.choice(junk) for j in range(rng.randint(1, 12))]
            hdr = rng.choice([header, header, header.upper(), header.replace(",", ";"), "",
                              "order_id,product_id", header + ",extra", "\ufeff" + header,
                              header.replace("paid_at", "paid")])
            content = "\n".join([hdr] + rows)
            blob: Any = rng.choice([io.StringIO(content), io.BytesIO(content.encode("utf-8")),
                                    io.BytesIO(content.encode("cp1251", "replace")),
                                    io.BytesIO(b"\xff\xfe" + content.encode("utf-16-le"))])
            try:
                with Session() as s:
                    report = import_csv(s, blob, kb)
                    s.rollback()
                outcomes["report"] += 1
                for e in report.errors:
                    if not re.match(r"(line \d+|file): ", e):
                        no_line += 1
                        if len(notes) < 8 and no_line <= 2:
                            notes.append(f"csv error without a line reference: {e[:120]!r}")
            except Exception as exc:  # noqa: BLE001 - that is what we look for
                name = type(exc).__name__
                other[name] += 1
                if other[name] == 1:
                    notes.append(f"csv: {name}: {str(exc)[:200]}")
        engine.dispose()
    finally:
        pg.stop()
    rows = [("purchase CSV files", n, ""), ("import reports", outcomes["report"], ""),
            ("unhandled exceptions", sum(other.values()), verdict(not other)),
            ("by type", dict(other) or "-", ""),
            ("errors not `line N: …` / `file: …`", no_line, verdict(no_line == 0))]
    return rows, notes


def main() -> int:
    ap = bench_args(__doc__)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    t0 = time.monotonic()
    tables, notes = [], []
    parts: list[tuple[str, Callable[[], tuple[list, list[str]]]]] = [
        ("Callback bodies (gunicorn, 2 workers)",
         lambda: fuzz_callback(800 if args.quick else 5000, args.seed)),
        ("knowledge_base.json mutations → load_kb",
         lambda: fuzz_kb(150 if args.quick else 600, args.seed)),
        ("Purchase CSV → import_csv", lambda: fuzz_csv(60 if args.quick else 300, args.seed)),
    ]
    ok = True
    for title, fn in parts:
        rows, n = fn()
        ok &= all(r[2] in ("", "ok") for r in rows)
        tables.append(print_table(title, rows))
        notes += n
        print()
    print(f"wall time {time.monotonic() - t0:.0f} s")
    return finish(ok, args, "Bad input", "\n\n".join(tables), RERUN, notes)


if __name__ == "__main__":
    sys.exit(main())
