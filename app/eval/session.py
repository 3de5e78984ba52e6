"""One eval run end to end: sandbox → play every dialog → judge → results.json + report.md."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from app.brain.prompts import PromptSet
from app.eval.judging import Judge, MakeJudge, judge_all
from app.eval.report import render_report
from app.eval.results import build_results
from app.eval.runner import DialogRun, play_all
from app.eval.sandbox import EVAL_START, MakeApp, brain_label, open_lab, throwaway_database
from app.eval.scenarios import Scenario
from app.platform.config import Settings

Progress = Callable[[str, int, Optional[DialogRun]], None]  # (phase, total, finished dialog)


@dataclass
class EvalOptions:
    scenarios: list[Scenario]
    kb_path: str
    out_dir: Path
    judge: bool = False
    prompts_dir: Optional[str] = None
    concurrency: int = 4
    scenarios_file: str = ""
    repeat: int = 1  # judge each dialog this many times (verdict flips are reported)


def _meta(settings: Settings, opts: EvalOptions, prompts: PromptSet, kb_version: str,
          judge: Optional[Judge]) -> dict[str, Any]:
    return {
        "prompt_version": prompts.version,
        "brain": brain_label(settings),
        "kb_version": kb_version,
        "judge": ({"model": judge.judge_model, "prompt_version": judge.judge_version,
                   "repeat": opts.repeat}
                  if judge is not None else None),
        "prompts_dir": opts.prompts_dir,  # None: the built-in app/brain/prompts
        "kb_path": str(opts.kb_path),
        "scenarios_file": opts.scenarios_file,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "virtual_start": EVAL_START.isoformat(),
    }


def run_eval(settings: Settings, opts: EvalOptions, make_app: MakeApp,
             progress: Optional[Progress] = None,
             make_judge: Optional[MakeJudge] = None) -> dict[str, Any]:
    """`make_app` / `make_judge` come from the composition (the same `gemini_from` as the
    app's); without `make_judge` (or a key) the points are not judged."""
    prompts = PromptSet(opts.prompts_dir)
    judge = make_judge(settings, prompts) if opts.judge and make_judge is not None else None
    try:
        return _run(settings, opts, make_app, prompts, judge, progress)
    finally:
        if judge is not None:
            judge.close()


def _run(settings: Settings, opts: EvalOptions, make_app: MakeApp, prompts: PromptSet,
         judge: Optional[Judge], progress: Optional[Progress]) -> dict[str, Any]:
    started = time.monotonic()
    notify = (lambda phase: (lambda run: progress(phase, len(opts.scenarios), run))) \
        if progress else (lambda phase: None)
    with throwaway_database(settings) as url:
        with open_lab(make_app, settings, url, opts.kb_path, prompts, opts.concurrency) as lab:
            snapshot = lab.parts.kb_store.snapshot()
            kb = snapshot.kb
            meta = _meta(settings, opts, prompts, kb.version, judge)
            runs = play_all(lab, opts.scenarios, opts.concurrency, notify("play"))
    judged = judge_all(judge, runs, kb, snapshot.index, opts.concurrency, notify("judge"),
                       repeat=opts.repeat)
    results = build_results(meta, runs, judged, time.monotonic() - started)
    write_run(results, opts.out_dir)
    return results


def write_run(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(render_report(results), encoding="utf-8")
