"""Grounding figures on four knowledge bases: reply-prompt reach, guardrail precision, offline brain.

- reach: share of queries whose answering entry is in the reply-stage request that the fake
  Gemini receives (analysis `kb_ids` empty, so only the KB block / retrieval puts it there);
- guardrails: good replies delivered as written and bad ones stopped, on both corpora;
- offline brain: share of queries answered with the right entry's facts (FAQ answer, or product
  title and price) without a model, and on each KB's set of questions it cannot answer, the share
  the offline brain still answers confidently with some entry (false-confident; lower is better).

Prints markdown; with --write stores it in docs/benchmarks.md under "## Grounding".

    .venv/bin/python bench/grounding.py [--write]
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.brain.engine import run_brain  # noqa: E402
from app.brain.gemini.brain import GeminiBrain  # noqa: E402
from app.brain.offline.brain import OfflineBrain  # noqa: E402
from bench.load import table_main, write_doc_section  # noqa: E402
from tests.brain.test_brain_gemini import ANALYSIS, GOOD_REPLY, Effects  # noqa: E402
from tests.brain.test_guardrail_corpus import CORPORA, run_corpus  # noqa: E402
from tests.brain.test_kb_context import SETS, ctx_for, kb_of, queries  # noqa: E402
from tests.brain.test_offline_honest import has_facts, reply_to  # noqa: E402
from tests.brain.test_offline_unanswerable import false_confident, unanswerable  # noqa: E402
from tests.fakes.gemini_server import FakeGeminiServer, json_response, text_response  # noqa: E402

HEADING = "## Grounding"


def reach(fake: FakeGeminiServer, name: str, budget: int) -> float:
    brain = GeminiBrain(api_key="k", base_url=fake.base_url, analysis_model="a",
                        reply_model="r", timeout_s=5, max_attempts=1, kb_token_budget=budget)
    cases = queries(name)
    hit = 0
    for i, (query, expected) in enumerate(cases):
        fake.push(json_response(dict(ANALYSIS, kb_ids=[])), text_response(GOOD_REPLY))
        run_brain(ctx_for(SETS[name][0], query, i + 1), brain, OfflineBrain(), Effects())
        hit += f"[{expected}]" in fake.requests[-1].contents_text
    brain.close()
    return hit / len(cases)


def offline_rate(name: str) -> float:
    kb, _ = kb_of(SETS[name][0])
    cases = queries(name)
    right = sum(has_facts(kb, e, reply_to(ctx_for(SETS[name][0], q, i + 1))[1])
                for i, (q, e) in enumerate(cases))
    return right / len(cases)


def held_out(name: str) -> str:
    wrong, total = len(false_confident(name, True)), len(unanswerable(name, True))
    return f"{wrong}/{total}"


def run() -> str:
    rows = ["| Knowledge base | Queries (development) | Reach, whole KB (development) | Reach, "
            "retrieval (development) | Offline brain: right facts (development) | Unanswerable "
            "questions (development) | Offline brain: false-confident (development) | Held-out "
            "unanswerable: false-confident (held-out) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    with FakeGeminiServer() as fake:
        for name in SETS:
            rows.append(f"| {SETS[name][0].name} | {len(queries(name))} "
                        f"| {reach(fake, name, 200_000):.1%} | {reach(fake, name, 1):.1%} "
                        f"| {offline_rate(name):.1%} | {len(unanswerable(name))} "
                        f"| {len(false_confident(name)) / len(unanswerable(name)):.1%} "
                        f"| {held_out(name)} |")
    rows += ["", "| Guardrail corpus | Set | Good delivered as written | Bad stopped |",
             "|---|---|---:|---:|"]
    for corpus in CORPORA:
        res = run_corpus(corpus)
        rows.append(f"| {corpus} ({CORPORA[corpus].name}) | development (tuned on) "
                    f"| {res['good_ok']}/{res['good']} | {res['bad_ok']}/{res['bad']} |")
    # measured once, before any guardrail change of issue 25 (the corpus was committed first)
    rows.append("| guardrail_corpus_drawing_heldout.jsonl (kb_drawing.json), before the fixes "
                "| held-out (never tuned on) | 42/53 | 7/19 |")
    return "\n".join(rows)


def write_section(table: str) -> None:
    write_doc_section(HEADING, (
        f"What the model is shown and what gets through, on the piano KB and "
        f"four KBs of other schools (guitar, vocal, drawing, English; `tests/data/`). "
        f"False-confident = share of the KB's unanswerable questions (`*_unanswerable.jsonl`: "
        f"camps, concert tickets, tuning, rentals, jobs, franchises, other instruments..., "
        f"written before running the search) that the offline brain answers with some entry "
        f"instead of handing over (target 10 %; before unknown words counted it was 53 % "
        f"piano, 57 % guitar, 44 % vocal, 59 % drawing, 65 % English). "
        f"The held-out unanswerable sets (`*_unanswerable_holdout.jsonl`) were written after "
        f"the confidence thresholds were set, as a check on tuning, and never tuned on (their "
        f"column is held-out); the query sets and the other unanswerable sets are development "
        f"sets (tuned on). Reach = the "
        f"answering entry is in the reply-stage request received by the fake Gemini (the "
        f"analysis names no entries). Guardrail corpora: every corpus in the table is a "
        f"development set — the piano and vocal ones were tuned on, the drawing and guitar ones "
        f"were written as checks after the guardrails were built and the guardrails changed "
        f"after them. The held-out drawing corpus of issue 25 "
        f"(`guardrail_corpus_drawing_heldout.jsonl`: tablet and marker model names, price "
        f"differences, refusals, extension prices, what the school does not offer) was "
        f"committed before the guardrails ran on it and measured once (last row: 42/53 good, "
        f"7/19 bad, 7 of the misses affirmations of the KB's `not_offered`, which nothing "
        f"checked yet); the four classes that slipped were then closed on it, so its row above "
        f"is a development figure now.\n\n{table}\n\n"
        f"Rerun: `.venv/bin/python bench/grounding.py --write`\n"))


def main() -> None:
    table_main(__doc__, run, write_section)


if __name__ == "__main__":
    main()
