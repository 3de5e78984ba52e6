"""Eval runs on disk (for the panel): every `results.json` under EVAL_RUNS_DIR, a few levels
deep. A run is addressed by its folder relative to that root; only listed folders can be
opened, so a crafted id cannot read anything else."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

MAX_DEPTH = 3
MAX_RUNS = 200


@dataclass(frozen=True)
class RunInfo:
    run_id: str  # folder relative to the root, posix ("." for the root itself)
    path: Path
    modified: datetime
    results: Optional[dict[str, Any]]  # None when results.json cannot be read
    error: str = ""
    root: Optional[Path] = None  # EVAL_RUNS_DIR, resolved: no file outside it is ever read

    @property
    def summary(self) -> dict[str, Any]:
        return (self.results or {}).get("summary") or {}

    @property
    def report_path(self) -> Optional[Path]:
        return file_within(self.root or self.path, self.path / "report.md")

    @property
    def has_report(self) -> bool:
        return self.report_path is not None


def file_within(root: Path, path: Path) -> Optional[Path]:
    """`path` with every symlink resolved, when it is a regular file inside `root`; None when
    it is missing or leads out (a `report.md` linked to /etc/… is not a report)."""
    try:
        resolved = path.resolve(strict=True)
        return resolved if resolved.is_file() and resolved.is_relative_to(root.resolve()) \
            else None
    except (OSError, RuntimeError):  # missing, a loop, unreadable
        return None


def _candidates(root: Path) -> list[Path]:
    found: list[Path] = []
    level = [root]
    for _ in range(MAX_DEPTH + 1):
        nxt: list[Path] = []
        for folder in level:
            if file_within(root, folder / "results.json") is not None:
                found.append(folder)
            try:
                nxt += sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError:
                continue
        level = nxt
    return found


def _read(folder: Path, root: Path) -> RunInfo:
    path = folder / "results.json"
    run_id = folder.relative_to(root).as_posix()
    modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
            raise ValueError("no 'scenarios' list")
    except (OSError, ValueError) as exc:
        return RunInfo(run_id, folder, modified, None, f"results.json не читается: {exc}",
                       root=root)
    return RunInfo(run_id, folder, modified, data, root=root)


def list_runs(root: str | Path) -> list[RunInfo]:
    base = Path(root).resolve()
    if not base.is_dir():
        return []
    runs = [_read(folder, base) for folder in _candidates(base)]
    runs.sort(key=lambda r: r.modified, reverse=True)
    return runs[:MAX_RUNS]


def find_run(root: str | Path, run_id: str) -> Optional[RunInfo]:
    return next((r for r in list_runs(root) if r.run_id == run_id), None)
