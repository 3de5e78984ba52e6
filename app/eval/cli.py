"""`flask --app app eval run SCENARIOS.jsonl [--kb KB.json] [--out DIR] [--judge/--no-judge]
[--prompts DIR]` and `flask --app app eval compare A/results.json B/results.json`."""
from __future__ import annotations

import logging
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import click
from flask import Flask
from flask.cli import AppGroup

from app.eval.sandbox import MakeApp
from app.platform.config import Settings
from app.platform.deps import deps_of, install

if TYPE_CHECKING:
    from app.eval.judging import MakeJudge
    from app.eval.runner import DialogRun

eval_group = AppGroup("eval", help="The conversation lab: play scenario dialogs, judge, compare.")


@dataclass(frozen=True)
class EvalCliDeps:
    settings: Settings
    make_app: MakeApp  # builds the lab's app (handed in: the lab never imports create_app)
    make_judge: MakeJudge  # builds the judge beside the app's Gemini (composition's judge_from)


def init_app(app: Flask, deps: EvalCliDeps) -> None:
    install(app, deps)
    app.cli.add_command(eval_group)


def default_out_dir(runs_dir: str, prompt_version: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(runs_dir) / f"{stamp}-{prompt_version}"


@contextmanager
def _quiet_logs(verbose: bool) -> Iterator[None]:
    """Turn-by-turn INFO logs would bury the progress bar; warnings still show."""
    logger = logging.getLogger("app")
    old = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)


class _Bars:
    """One click progress bar per phase (playing, judging); thread-safe updates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}

    def __call__(self, phase: str, total: int, run: Optional[DialogRun]) -> None:
        with self._lock:
            if phase not in self._bars:
                for bar in self._bars.values():
                    bar.render_finish()
                label = "Диалоги" if phase == "play" else "Судья  "
                self._bars[phase] = click.progressbar(length=total, label=label, file=sys.stderr,
                                                      show_pos=True)
            self._bars[phase].update(1)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.render_finish()


@eval_group.command("run")
@click.argument("scenarios_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kb", "kb_path", type=click.Path(exists=True, dir_okay=False),
              help="Knowledge base JSON (default: KNOWLEDGE_BASE_PATH).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where results.json and report.md go (default: EVAL_RUNS_DIR/<time>-<prompts>).")
@click.option("--judge/--no-judge", default=None,
              help="Judge each dialog with Gemini (default: on when GEMINI_API_KEY is set).")
@click.option("--prompts", "prompts_dir", type=click.Path(exists=True, file_okay=False),
              help="Read the prompt templates from this directory instead of the built-in one.")
@click.option("--concurrency", "-j", type=click.IntRange(1, 32),
              help="Dialogs played at once (default: 4 with Gemini; 1 offline, where the rules "
                   "pick phrases by turn number, so an offline run repeats exactly).")
@click.option("--repeat", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Judge each dialog N times and report how often the verdicts flip.")
@click.option("--verbose", is_flag=True, help="Show the app's INFO logs.")
def eval_run(scenarios_file: str, kb_path: Optional[str], out_dir: Optional[str],
             judge: Optional[bool], prompts_dir: Optional[str], concurrency: Optional[int],
             repeat: int, verbose: bool) -> None:
    """Play every dialog of SCENARIOS_FILE through the real pipeline on a throw-away database."""
    from app.brain.prompts import PromptSet
    from app.eval.scenarios import ScenarioError, load_scenarios
    from app.eval.session import EvalOptions, run_eval

    deps = deps_of(EvalCliDeps)
    settings = deps.settings
    try:
        scenarios = load_scenarios(scenarios_file)
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from exc
    kb_path = kb_path or settings.knowledge_base_path
    _require_valid_kb(kb_path)
    judge = settings.gemini_configured if judge is None else judge
    if judge and not settings.gemini_configured:
        raise click.UsageError("--judge needs GEMINI_API_KEY (the judge is a Gemini call)")
    if prompts_dir and not settings.gemini_configured:
        click.echo("note: without GEMINI_API_KEY the offline brain answers and reads no prompts; "
                   "--prompts only changes the reported prompt_version", err=True)
    out = Path(out_dir) if out_dir else default_out_dir(settings.eval_runs_dir,
                                                        PromptSet(prompts_dir).version)
    concurrency = concurrency or (4 if settings.gemini_configured else 1)
    opts = EvalOptions(scenarios=scenarios, kb_path=kb_path,
                       out_dir=out, judge=judge,
                       prompts_dir=prompts_dir, concurrency=concurrency,
                       scenarios_file=str(scenarios_file), repeat=repeat)
    bars = _Bars()
    with _quiet_logs(verbose):
        try:
            results = run_eval(settings, opts, deps.make_app, progress=bars,
                               make_judge=deps.make_judge)
        finally:
            bars.close()
    _print_summary(results, out)


def _require_valid_kb(path: str) -> None:
    from app.knowledge.base import KnowledgeBaseError, load_kb

    try:
        load_kb(path)
    except KnowledgeBaseError as exc:
        raise click.UsageError(f"the knowledge base {path} is not valid:\n" + "\n".join(
            exc.errors[:20])) from exc


def _print_summary(results: dict[str, Any], out: Path) -> None:
    s = results["summary"]
    pts = s["points"]
    click.echo(f"prompts {results['prompt_version']} · brain {results['brain']} · "
               f"kb {results['kb_version']}")
    click.echo(f"dialogs {s['dialogs']} (errors {s['dialogs_with_errors']}) · checks "
               f"{s['checks']['passed']}/{s['checks']['total']} · points pass {pts['pass']} "
               f"fail {pts['fail']} not_judged {pts['not_judged']} · tokens "
               f"{s['tokens']['total']} (judge {s['judge_tokens']['total']})")
    stable = s.get("judge_stability")
    if stable:
        click.echo(f"judge repeated {stable['repeat']}×: verdicts flipped on {stable['flipped']} "
                   f"of {stable['points']} points ({stable['flip_rate']:.0%})")
    click.echo(f"wrote {out / 'results.json'} and {out / 'report.md'}")


@eval_group.command("compare")
@click.argument("a_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("b_path", type=click.Path(exists=True, dir_okay=False))
def eval_compare(a_path: str, b_path: str) -> None:
    """What changed from run A to run B (per dialog and per point)."""
    from app.eval.compare import compare, load_results

    try:
        a, b = load_results(a_path), load_results(b_path)
    except ValueError as exc:  # JSON errors too
        raise click.UsageError(str(exc)) from exc
    for line in compare(a, b, a_path, b_path):
        click.echo(line)


@eval_group.command("judge-check")
@click.argument("labels_file", type=click.Path(exists=True, dir_okay=False),
                default="eval/judge_labels.jsonl")
@click.option("--kb", "kb_path", type=click.Path(exists=True, dir_okay=False),
              help="Knowledge base the dialogs were written for (default: KNOWLEDGE_BASE_PATH).")
@click.option("--concurrency", "-j", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_judge_check(labels_file: str, kb_path: Optional[str], concurrency: int,
                     as_json: bool) -> None:
    """How often the judge agrees with a person's verdicts on LABELS_FILE."""
    import json

    from app.brain.prompts import PromptSet
    from app.eval.judge_check import LabelsError, check, format_check, load_labels
    from app.knowledge.base import load_kb

    deps = deps_of(EvalCliDeps)
    settings = deps.settings
    if not settings.gemini_configured:
        raise click.UsageError("judge-check needs GEMINI_API_KEY (the judge is a Gemini call)")
    try:
        dialogs = load_labels(labels_file)
    except LabelsError as exc:
        raise click.UsageError(str(exc)) from exc
    kb_path = kb_path or settings.knowledge_base_path
    _require_valid_kb(kb_path)
    judge = deps.make_judge(settings, PromptSet(None))
    if judge is None:
        raise click.UsageError("judge-check needs GEMINI_API_KEY (the judge is a Gemini call)")
    try:
        result = check(judge, dialogs, load_kb(kb_path), concurrency)
    finally:
        judge.close()
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        for line in format_check(result):
            click.echo(line)
