"""The layout's rules, checked on the source: who may import whom, no cycles between packages,
and every state a row can be stored in has a label in the staff panel."""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from app.models import (
    AccessState,
    FunnelStage,
    OfferState,
    OrderCheck,
    PaymentStatus,
    ReminderStatus,
    TurnKind,
    TurnStatus,
    VkPermission,
)

APP = Path(__file__).resolve().parents[2] / "app"

# unit (a top-level package or module of app/) -> the units it must never import, type-only
# imports included (ARCHITECTURE.md: arrows run downwards)
ADAPTERS = {"composition", "admin", "devchat", "eval", "health", "hooks"}
FORBIDDEN = {
    "platform": {"models", "knowledge", "brain", "vk", "runtime", "turns", "crm", "reminders",
                 "payments", "reports"} | ADAPTERS,
    "models": {"turns", "crm", "reminders", "payments", "vk", "brain", "knowledge", "runtime",
               "reports"} | ADAPTERS,
    "knowledge": {"models", "turns", "crm", "reminders", "payments", "vk", "brain", "runtime",
                  "reports"} | ADAPTERS,
    "brain": {"models", "turns", "crm", "reminders", "payments", "vk", "runtime", "reports"}
    | ADAPTERS,
    "vk": {"turns", "brain", "crm", "reminders", "payments", "runtime", "reports"}
    | ADAPTERS - {"vk"},
    "runtime": {"turns", "reminders", "crm", "payments", "vk", "brain", "reports"} | ADAPTERS,
    "reminders": {"turns", "vk", "runtime", "reports", "payments"} | ADAPTERS,
    "crm": {"turns", "reminders", "runtime", "reports", "payments"} | ADAPTERS,
    # payments sit beside crm and reminders: they use crm's purchases store, never a turn
    "payments": {"turns", "reminders", "runtime", "reports"} | ADAPTERS,
    "reports": {"turns", "vk", "brain", "crm", "reminders", "payments", "runtime"} | ADAPTERS,
    "turns": {"reports"} | ADAPTERS,
    "hooks": {"composition", "admin", "devchat", "eval", "health", "turns", "runtime"},
    "health": {"composition", "admin", "devchat", "eval", "hooks", "turns", "runtime"},
    "devchat": {"composition", "admin", "eval", "health", "hooks", "turns", "runtime"},
    "eval": {"composition", "admin", "devchat", "health", "hooks", "reports"},
    "admin": {"composition", "devchat", "health", "hooks"},
}
ALLOWED_IN_BRAIN = {"brain", "knowledge", "platform"}
ANY_LIMIT = 25  # whole annotations `: Any` / `-> Any` in app/ (ARCHITECTURE.md: Protocols instead)


def _imports(path: Path) -> set[str]:
    """Every `app.…` module or name imported by the file, type-only imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(name for name in names if name.startswith("app."))
    return found


def _unit(path: Path) -> str:
    rel = path.relative_to(APP).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _graph() -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for path in APP.rglob("*.py"):
        unit = _unit(path)
        targets = {name.split(".")[1] for name in _imports(path)}
        deps.setdefault(unit, set()).update(targets - {unit})
    return deps


def test_units_import_only_downwards() -> None:
    deps = _graph()
    broken = {unit: sorted(deps.get(unit, set()) & bad) for unit, bad in FORBIDDEN.items()}
    assert {k: v for k, v in broken.items() if v} == {}
    assert deps["brain"] <= ALLOWED_IN_BRAIN, "the brain imports only knowledge, platform and itself"


def test_nothing_below_composition_imports_it() -> None:
    """No service locator: only `app/__init__.py` (the public create_app) and the composition
    itself know the composition; no `svc` parameter anywhere below it."""
    offenders = sorted(str(p.relative_to(APP)) for p in APP.rglob("*.py")
                       if _unit(p) not in ("composition", "__init__")
                       and any(name.startswith("app.composition") for name in _imports(p)))
    assert offenders == []
    svc_params = []
    for path in APP.rglob("*.py"):
        if _unit(path) == "composition":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if any(a.arg == "svc" for a in args):
                    svc_params.append(f"{path.relative_to(APP)}:{node.name}")
    assert svc_params == []


def test_knowledge_touches_no_database() -> None:
    for path in (APP / "knowledge").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names = _imports(path)
        assert not any(n.startswith(("app.models", "app.platform.db")) for n in names), path
        assert "sqlalchemy" not in text, path


def test_reports_only_read() -> None:
    """Reports open read-only transactions and never add, insert, update or delete rows."""
    writes = re.compile(r"\.add\(|(?<!\.)\b(?:insert|update|delete)\(|\.merge\(|"
                        r"\b(?:INSERT|UPDATE|DELETE)\b")
    offenders = [f"{p.relative_to(APP)}:{i}" for p in (APP / "reports").rglob("*.py")
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if writes.search(line)]
    assert offenders == []


def test_packages_with_a_public_api_are_used_through_it() -> None:
    """A package whose `__init__` declares `__all__` is imported from outside through its top,
    never through one of its modules."""
    public = sorted(".".join(("app",) + p.parent.relative_to(APP).parts)
                    for p in APP.rglob("__init__.py")
                    if p.parent != APP and "__all__" in p.read_text(encoding="utf-8"))
    offenders = []
    for path in APP.rglob("*.py"):
        mod = ".".join(("app",) + path.relative_to(APP).with_suffix("").parts)
        for name in _imports(path):
            for pkg in public:
                inside = mod == pkg + ".__init__" or mod.startswith(pkg + ".")
                if not inside and name.startswith(pkg + ".") and \
                        not _exported(pkg, name[len(pkg) + 1:]):
                    offenders.append(f"{path.relative_to(APP)} imports {name}")
    assert sorted(set(offenders)) == [], "\n".join(sorted(set(offenders)))


def _exported(pkg: str, rest: str) -> bool:
    """`from pkg import Name` shows up as `pkg.Name`: allowed when Name is in `__all__`."""
    init = APP.joinpath(*pkg.split(".")[1:], "__init__.py").read_text(encoding="utf-8")
    return "." not in rest and f'"{rest}"' in init


def test_no_import_cycles_between_units() -> None:
    deps = _graph()
    units = set(deps)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            cur = todo.pop()
            for nxt in deps.get(cur, set()) & units:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = [(a, b) for a, b in itertools.combinations(sorted(units - {"__init__"}), 2)
              if reaches(a, b) and reaches(b, a)]
    assert cycles == []


def _whole_any(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        annotations: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            annotations = [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs]
            annotations += [a.vararg.annotation if a.vararg else None,
                            a.kwarg.annotation if a.kwarg else None, node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        lines += [ann.lineno for ann in annotations
                  if ann is not None and ast.unparse(ann) in ("Any", "typing.Any", "'Any'")]
    return lines


def test_few_whole_any_annotations() -> None:
    """`Any` only where the data really is untyped; `dict[str, Any]` for JSON does not count."""
    found = {str(p.relative_to(APP)): n for p in APP.rglob("*.py") if (n := len(_whole_any(p)))}
    assert sum(found.values()) <= ANY_LIMIT, sorted(found.items(), key=lambda kv: -kv[1])


# getattr with a literal name, allowed only where the object is no typed model: a brain
# provider that may have a prompts version (a Protocol's optional extra), a thread's locals, a
# logger's marker, google-genai's response fields (they vary by SDK version)
GETATTR_ALLOWED = {("brain/engine.py", "prompt_version"), ("eval/sandbox.py", "now"),
                   ("platform/logging.py", "_neuro_configured"),
                   ("brain/gemini/brain.py", "block_reason"), ("brain/gemini/brain.py", "value"),
                   # urllib3's response internals (the socket the media deadline shuts)
                   ("vk/media.py", "connection"), ("vk/media.py", "_connection"),
                   ("vk/media.py", "sock")}


def test_no_getattr_on_typed_objects() -> None:
    """Typed ORM rows and pydantic models are read as attributes: a defensive
    `getattr(obj, "name", default)` hides a typo or a schema change."""
    offenders = []
    for path in APP.rglob("*.py"):
        rel = str(path.relative_to(APP))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == "getattr" and len(node.args) >= 2 and \
                    isinstance(node.args[1], ast.Constant) and \
                    (rel, node.args[1].value) not in GETATTR_ALLOWED:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


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
                                  OrderCheck, PaymentStatus, AccessState, VkPermission])
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
