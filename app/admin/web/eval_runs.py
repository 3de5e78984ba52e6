"""/admin/eval: eval runs found under EVAL_RUNS_DIR with their summary, and one run's report.
Read-only: runs are made by `flask eval run` on a throw-away database, never from here."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Response, abort, render_template

from app.admin.web.deps import panel
from app.admin.web.views import bp
from app.eval.report import verdict_counts
from app.eval.runs import find_run, list_runs

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue


def _root() -> Path:
    return Path(panel().settings.eval_runs_dir)


@bp.get("/eval")
def eval_runs() -> ResponseReturnValue:
    root = _root()
    return render_template("admin/eval_runs.html", runs=list_runs(root), root=root.resolve())


@bp.get("/eval/run/<path:run_id>")
def eval_run(run_id: str) -> ResponseReturnValue:
    run = find_run(_root(), run_id)
    if run is None or run.results is None:
        abort(404)
    return render_template("admin/eval_run.html", run=run, r=run.results,
                           verdict_counts=verdict_counts)


@bp.get("/eval/report/<path:run_id>")
def eval_report_md(run_id: str) -> ResponseReturnValue:
    run = find_run(_root(), run_id)
    report = run.report_path if run is not None else None
    if report is None:  # missing, or a link leading out of EVAL_RUNS_DIR
        abort(404)
    text = report.read_text(encoding="utf-8")
    return Response(text, mimetype="text/plain; charset=utf-8",  # shown as text, never as HTML
                    headers={"X-Content-Type-Options": "nosniff"})
