"""Knowledge-base search benchmark: our search vs plain BM25 (rank-bm25 BM25Okapi).

Measures recall@1, recall@3 and mean / p99 time per query on both test knowledge bases and
prints a markdown table. With --write, also stores the table in docs/benchmarks.md under
"## Knowledge-base search" (only that section is replaced).

    .venv/bin/python bench/kb_search.py [--write]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rank_bm25 import BM25Okapi  # noqa: E402

from app.knowledge.base import KnowledgeBase, load_kb  # noqa: E402
from app.knowledge.search import KnowledgeIndex  # noqa: E402
from bench.load import table_main, write_doc_section  # noqa: E402

DATA = ROOT / "tests" / "data"
DEV = "development (tuned on)"
HELD = "held-out (never tuned on)"
# (label, KB, queries, set): a development set was looked at while the search was tuned; a
# held-out one was written before the search ran on it and never used to change it
SETS = [
    ("knowledge_base.json (piano school)", ROOT / "knowledge_base.json", DATA / "kb_queries.jsonl",
     DEV),
    ("tests/data/kb_other.json (guitar school)", DATA / "kb_other.json",
     DATA / "kb_other_queries.jsonl", DEV),
    ("tests/data/kb_vocal.json (vocal studio)", DATA / "kb_vocal.json",
     DATA / "kb_vocal_queries.jsonl", DEV),
    ("tests/data/kb_drawing.json (drawing school)", DATA / "kb_drawing.json",
     DATA / "kb_drawing_queries.jsonl", DEV),
    ("tests/data/kb_english.json (English school)", DATA / "kb_english.json",
     DATA / "kb_english_queries.jsonl", HELD),
    ("kb_vocal.json, first «held-out» queries", DATA / "kb_vocal.json",
     DATA / "kb_vocal_holdout.jsonl", DEV),
    ("kb_drawing.json, first «held-out» queries", DATA / "kb_drawing.json",
     DATA / "kb_drawing_holdout.jsonl", DEV),
    ("kb_vocal.json, fresh held-out queries (issue 25)", DATA / "kb_vocal.json",
     DATA / "kb_vocal_heldout_2.jsonl", HELD),
    ("kb_drawing.json, fresh held-out queries (issue 25)", DATA / "kb_drawing.json",
     DATA / "kb_drawing_heldout_2.jsonl", HELD),
]
HEADING = "## Knowledge-base search"
RERUN = ".venv/bin/python bench/kb_search.py --write"
WORD_RE = re.compile(r"\w+")


def simple_tokens(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def entry_text(entry) -> str:
    parts = [getattr(entry, name, "") for name in ("title", "summary", "description", "question", "answer")]
    for name in ("includes", "suits", "alt_questions", "tags"):
        parts.extend(getattr(entry, name, []) or [])
    return " ".join(p for p in parts if p)


def bm25_searcher(kb: KnowledgeBase) -> Callable[[str, int], list[str]]:
    entries = list(kb.entries())
    ids = [e.id for e in entries]
    bm25 = BM25Okapi([simple_tokens(entry_text(e)) for e in entries])

    def search(query: str, k: int) -> list[str]:
        scores = bm25.get_scores(simple_tokens(query))
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        return [ids[i] for i in order[:k] if scores[i] > 0]

    return search


def measure(search: Callable[[str, int], list[str]], cases: list[tuple[str, str]]) -> dict[str, float]:
    for query, _ in cases:  # warm-up: lemma caches, analyser start-up
        search(query, 3)
    r1 = r3 = 0
    times = []
    for query, expected in cases:
        t0 = time.perf_counter()
        ids = search(query, 3)
        times.append((time.perf_counter() - t0) * 1000)
        r1 += ids[:1] == [expected]
        r3 += expected in ids
    times.sort()
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    return {"r1": r1 / len(cases), "r3": r3 / len(cases), "mean": statistics.fmean(times), "p99": p99}


def run() -> str:
    rows = ["| Knowledge base | Set | Queries | Method | recall@1 | recall@3 | mean ms/query "
            "| p99 ms/query |", "|---|---|---:|---|---:|---:|---:|---:|"]
    for label, kb_path, queries_path, kind in SETS:
        kb = load_kb(kb_path)
        cases = [(r["query"], r["expected"]) for r in
                 (json.loads(line) for line in queries_path.read_text(encoding="utf-8").splitlines()
                  if line.strip())]
        index = KnowledgeIndex.build(kb)
        # timed without the per-index memo of answers (the warm-up would fill it): the real work
        uncached = lambda q, k, ix=index: [h.id for h in ix._search(q, k)]  # noqa: E731
        methods = [("ours (BM25F over lemmas + synonyms + stems + typos + question match)", uncached),
                   ("plain BM25Okapi (lowercase word tokens)", bm25_searcher(kb))]
        for name, search in methods:
            m = measure(search, cases)
            rows.append(f"| {label} | {kind} | {len(cases)} | {name} | {m['r1']:.3f} | {m['r3']:.3f} "
                        f"| {m['mean']:.3f} | {m['p99']:.3f} |")
    return "\n".join(rows)


def write_section(table: str) -> None:
    write_doc_section(HEADING, (
        "Recall of `app.knowledge.search` against plain BM25 on colloquial client queries "
        "(`tests/data/kb_*queries.jsonl`, k = 3, single thread, lemma cache warmed by one pass "
        "over the queries; typo matching is not cached). **Set** says where a figure comes "
        "from: *development* sets were looked at while the search was tuned (their figures are "
        "optimistic), *held-out* sets were written before the search ran on them and never used "
        "to change it. The piano, guitar, vocal and drawing query sets are development sets (the "
        "vocal and drawing ones were written before the search was tuned for those KBs, then "
        "tuned on). The first vocal and drawing «held-out» sets were tuned on minutes after they "
        "were written (misses 3 → 0; before that round they gave recall@1 / recall@3 of 0.800 / "
        "0.900 (vocal) and 0.767 / 1.000 (drawing)): relabelled development. The English KB and "
        "its queries were written without running the search and never tuned on. The fresh "
        "held-out sets of issue 25 (`kb_vocal_heldout_2.jsonl`, `kb_drawing_heldout_2.jsonl`, "
        "30 queries each) were committed before the search ran on them and measured once, with "
        "no change to the search afterwards. The times of the last run were taken on the shared "
        "2-core machine while other suites ran (2026-12-07): compare them within one run only."
        "\n\n"
        f"{table}\n\nRerun: `{RERUN}`"))


def main() -> None:
    table_main(__doc__, run, write_section)


if __name__ == "__main__":
    main()
