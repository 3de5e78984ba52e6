"""Prompt cost per turn: whole KB in context vs retrieval, with Gemini's implicit caching.

Runs a 12-turn dialog (client questions from the KB's query set) through the real
`GeminiBrain` and SDK against the local fake Gemini, once with the whole KB in both prompts
(KB_CONTEXT_TOKEN_BUDGET default) and once in retrieval mode (budget 1 token). The fake counts
prompt tokens as characters / 3.5 (a Russian-text estimate) and reports as cached the longest
prefix (system instruction + content) shared with an earlier request to the same model, when it
is at least 1024 tokens — how Gemini's implicit caching behaves. Prints a markdown table; with
--write stores it in docs/benchmarks.md under "## Prompt cost per turn".

    .venv/bin/python bench/prompt_cost.py [--write]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.brain.contract import ClientCard, Decisions, HistoryMessage, TurnContext  # noqa: E402
from app.brain.engine import run_brain  # noqa: E402
from app.brain.gemini.brain import GeminiBrain  # noqa: E402
from app.brain.offline.brain import OfflineBrain  # noqa: E402
from app.brain.prompts.render import DEFAULT_KB_TOKEN_BUDGET  # noqa: E402
from app.knowledge.base import load_kb  # noqa: E402
from app.knowledge.search import KnowledgeIndex  # noqa: E402
from bench.load import table_main, write_doc_section  # noqa: E402
from tests.brain.test_brain_offline import NOW  # noqa: E402
from tests.fakes.gemini_server import FakeGeminiServer, RecordedRequest, text_response  # noqa: E402

DATA = ROOT / "tests" / "data"
KBS = [("knowledge_base.json (piano)", ROOT / "knowledge_base.json", DATA / "kb_queries.jsonl"),
       ("kb_vocal.json (vocal)", DATA / "kb_vocal.json", DATA / "kb_vocal_queries.jsonl")]
CHARS_PER_TOKEN = 3.5
MIN_CACHE_TOKENS = 1024
TURNS = 12
HEADING = "## Prompt cost per turn"
NOTES = ("With the whole KB, a turn sends ~2-3x the tokens of retrieval, but almost all of them "
         "are the cached prefix (system instruction + KB), so the uncached part is about half of "
         "retrieval's: cached tokens are billed at a fraction of the input price, and the model "
         "sees every entry (reply-prompt reach 100 % on all four KBs, `tests/brain/test_kb_context.py`). "
         "Only the first request of each stage after a KB change (or after the cache expires, "
         "minutes of idle) pays for the whole KB.")
ANALYSIS = {"psych_state": "спокоен", "mood": "нейтральное", "funnel_stage": "warm",
            "intent": "узнать о курсах", "short_term_strategy": "ответить по делу",
            "long_term_strategy": "помочь выбрать курс", "facts": {}, "kb_ids": [],
            "follow_up": {"agreed": False}, "offer": None,
            "escalate": {"needed": False, "reason": ""}, "reply_plan": "ответ и вопрос"}
REPLY = "Спасибо за вопрос! Расскажите, пожалуйста, чуть подробнее, что для вас важно?"


class CachingModel:
    """Responder of the fake: token counts and an implicit-cache estimate per request."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {}

    def __call__(self, request: RecordedRequest) -> Any:
        text = request.system_text + "\n" + request.contents_text
        tokens = int(len(text) / CHARS_PER_TOKEN) + 1
        earlier = self.seen.setdefault(request.model, [])
        common = max((len(os.path.commonprefix([text, old])) for old in earlier), default=0)
        cached = int(common / CHARS_PER_TOKEN)
        cached = cached if cached >= MIN_CACHE_TOKENS else 0
        earlier.append(text)
        schema = "responseJsonSchema" in request.generation_config
        body = json.dumps(ANALYSIS, ensure_ascii=False) if schema else REPLY
        return text_response(body, prompt_tokens=tokens, output_tokens=60, cached_tokens=cached)


def dialog(fake: FakeGeminiServer, kb_path: Path, queries: list[str], budget: int) -> list[dict]:
    kb = load_kb(kb_path)
    index = KnowledgeIndex.build(kb)
    fake.set_responder(CachingModel())
    brain = GeminiBrain(api_key="k", base_url=fake.base_url, analysis_model="flash-a",
                        reply_model="flash-r", timeout_s=5, max_attempts=1,
                        kb_token_budget=budget)
    history: list[HistoryMessage] = []
    rows = []
    for i, query in enumerate(queries[:TURNS]):
        new = [HistoryMessage("in", query, NOW)]
        ctx = TurnContext(turn_id=i + 1, now=NOW, card=ClientCard(vk_id=1, first_name="Анна"),
                          new_messages=new, history=list(history[-20:]), summary="", kb=kb,
                          kb_index=index)
        result = run_brain(ctx, brain, OfflineBrain(), lambda _a: Decisions())
        stages = [u for u in result.usage.values() if isinstance(u, dict) and "prompt_tokens" in u]
        rows.append({"prompt": sum(u["prompt_tokens"] for u in stages),
                     "cached": sum(u.get("cached_tokens", 0) for u in stages)})
        history += new + [HistoryMessage("out", result.reply_text, NOW)]
    brain.close()
    return rows


def run() -> str:
    lines = ["| Knowledge base | Mode | Prompt tokens / turn | of them cached | uncached / turn "
             "| first turn uncached |", "|---|---|---:|---:|---:|---:|"]
    with FakeGeminiServer() as fake:
        for label, kb_path, q_path in KBS:
            queries = [json.loads(x)["query"] for x in q_path.read_text(encoding="utf-8")
                       .splitlines() if x.strip()][::4]
            for mode, budget in (("whole KB", DEFAULT_KB_TOKEN_BUDGET), ("retrieval", 1)):
                rows = dialog(fake, kb_path, queries, budget)
                prompt = statistics.fmean(r["prompt"] for r in rows)
                cached = statistics.fmean(r["cached"] for r in rows)
                first = rows[0]["prompt"] - rows[0]["cached"]
                lines.append(f"| {label} | {mode} | {prompt:,.0f} | {cached:,.0f} "
                             f"| {prompt - cached:,.0f} | {first:,.0f} |".replace(",", " "))
    return "\n".join(lines)


def write_section(table: str) -> None:
    budget = f"{DEFAULT_KB_TOKEN_BUDGET:,}".replace(",", " ")
    write_doc_section(HEADING, (
        f"Both model calls of a {TURNS}-turn dialog through the real SDK "
        f"against the fake Gemini; tokens estimated as characters / {CHARS_PER_TOKEN}, "
        f"cached = the prefix shared with an earlier request to the same model when it "
        f"is ≥ {MIN_CACHE_TOKENS} tokens (Gemini's implicit caching; the real count comes "
        f"from `usage_metadata.cached_content_token_count` and is stored per stage as "
        f"`cached_tokens`). Whole KB: `KB_CONTEXT_TOKEN_BUDGET` default "
        f"({budget} tokens); retrieval: budget 1.\n\n{table}\n\n{NOTES}\n\n"
        f"Rerun: `.venv/bin/python bench/prompt_cost.py --write`\n"))


def main() -> None:
    table_main(__doc__, run, write_section)


if __name__ == "__main__":
    main()
