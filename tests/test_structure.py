"""The layout's rules, checked on the source: who may import whom, no cycles between packages,
and every state a row can be stored in has a label in the staff panel."""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from app.models import (FunnelStage, OfferState, OrderCheck, ReminderStatus, TurnKind,
                        TurnStatus)

APP = Path(__file__).resolve().parents[1] / "app"

# package -> the app packages/modules it must never import (type-only imports are allowed)
FORBIDDEN = {
    "brain": {"models", "db", "turns", "crm", "reminders", "vk", "admin", "devchat", "services",
              "wiring", "health", "kb_sync", "eval", "reports"},
    "knowledge": {"models", "db", "turns", "crm", "reminders", "vk", "brain", "admin",
                  "devchat", "services", "wiring"},
    "models": {"turns", "crm", "reminders", "vk", "brain", "admin", "devchat", "services",
               "wiring", "knowledge"},
    "reminders": {"turns", "admin", "devchat", "wiring"},
    "crm": {"turns", "admin", "devchat", "wiring", "reminders"},
    "vk": {"turns", "brain", "crm", "reminders", "admin", "devchat", "wiring"},
    "turns": {"admin", "devchat", "wiring", "eval", "reports"},
    "reports": {"turns", "vk", "brain", "admin", "devchat", "wiring", "eval"},
    "eval": {"admin", "devchat", "wiring", "reports"},
}
ALLOWED_IN_BRAIN = {"brain", "knowledge", "platform"}


def _runtime_imports(path: Path) -> set[str]:
    """`app.<name>` targets imported at run time (skips `if TYPE_CHECKING:` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            bits = name.split(".")
            if len(bits) > 1 and bits[0] == "app":
                found.add(bits[1])
    return found


def _graph() -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP).parts
        unit = rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")
        deps.setdefault(unit, set()).update(_runtime_imports(path) - {unit})
    return deps


def test_packages_import_only_downwards() -> None:
    deps = _graph()
    broken = {pkg: sorted(deps.get(pkg, set()) & bad) for pkg, bad in FORBIDDEN.items()}
    assert {k: v for k, v in broken.items() if v} == {}
    assert deps["brain"] <= ALLOWED_IN_BRAIN, "the brain imports only knowledge, platform and itself"


def test_no_import_cycles_between_packages() -> None:
    deps = _graph()
    # composition knows every part; until the service locator is dissolved (issue 19) it is
    # left out of the cycle check
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages.discard("composition")

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            cur = todo.pop()
            for nxt in deps.get(cur, set()) & packages:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = [(a, b) for a, b in itertools.combinations(sorted(packages), 2)
              if reaches(a, b) and reaches(b, a)]
    assert cycles == []


def test_the_brain_and_search_load_without_a_database_or_flask() -> None:
    import subprocess
    import sys

    code = ("import sys; import app.brain.engine, app.brain.offline.brain, app.brain.gemini.brain, "
            "app.knowledge.search; bad = [m for m in ('flask', 'sqlalchemy', 'vk_api', "
            "'app.models', 'app.turns') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=APP.parent, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("enum", [FunnelStage, TurnKind, TurnStatus, ReminderStatus, OfferState,
                                  OrderCheck])
def test_every_state_has_a_russian_label(enum: type) -> None:
    labels = enum.labels()
    assert set(labels) == {m.value for m in enum}
    assert all(re.search(r"[а-яё]", label) for label in labels.values())


def test_panel_labels_come_from_the_states() -> None:
    from app.admin.web import views

    assert views.TURN_STATUS == TurnStatus.labels()
    assert views.REMINDER_STATUS == ReminderStatus.labels()
    assert views.STAGE_LABELS == FunnelStage.labels()
    assert views.TURN_KINDS == TurnKind.labels()


def test_no_state_is_written_as_a_bare_string() -> None:
    """Statuses are set through the enums or the models' transitions, so the panel knows them."""
    pattern = re.compile(r"\b(?:Turn|Reminder|turn|reminder|r|t)\.status\s*(?:=|==|!=)\s*['\"]"
                         r"|\bstatus\s*=\s*['\"][a-z_]+['\"]")
    offenders = [f"{p.relative_to(APP)}:{i}" for p in APP.rglob("*.py")
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and "states.py" not in p.name]
    assert offenders == []


def test_analysis_stages_match_the_stored_stages() -> None:
    from app.brain.analysis import FUNNEL_STAGES

    assert tuple(FUNNEL_STAGES) == tuple(m.value for m in FunnelStage)
