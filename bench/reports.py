"""Report benchmark: `report summary` and the dashboard on 10 000 clients / 100 000 messages.

Seeds a fresh embedded PostgreSQL with bench/report_seed.py, then times (best and worst of
5 runs after one warm-up): `flask --app app report summary --json` as a real process (start-up
included), the summary in-process, `report clients --csv`, and GET /admin/dashboard through
the Flask test client (server-side time, logged in). With --write, stores the table in
docs/benchmarks.md under "## Owner's reports" (only that section is replaced).

    .venv/bin/python bench/reports.py [--write] [--clients N] [--messages N]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import BenchPostgres  # noqa: E402
from bench.report_seed import seed  # noqa: E402

HEADING = "## Owner's reports"
RUNS = 5
FLASK = str(Path(sys.executable).with_name("flask"))


def timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, float]:
    fn()  # warm-up: caches, pymorphy, connection pool
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), max(times)


def env_for(url: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=url, ADMIN_PASSWORD="bench",
                SECRET_KEY="reports-key-0123456789abcdef0123456789abcdef",
                START_WORKERS="false",
                RUN_SCHEDULER="false", KNOWLEDGE_BASE_PATH=str(ROOT / "knowledge_base.json"),
                GEMINI_API_KEY="")


def cli(url: str, *args: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run([FLASK, "--app", "app", "report", *args], cwd=ROOT, env=env_for(url),
                       check=True, capture_output=True, timeout=120)
    return run


def in_process(url: str) -> tuple[Any, Any]:
    os.environ.update(env_for(url))
    from app import create_app
    from app.composition.factory import parts as services

    app = create_app()  # starts no threads (workers are a gunicorn hook)
    return app, services(app)


def dashboard_get(app: Any) -> Callable[[], None]:
    c = app.test_client()
    c.get("/admin/login")
    with c.session_transaction() as sess:
        token = sess.get("csrf_token", "")
    c.post("/admin/login", data={"password": "bench", "csrf_token": token})

    def run() -> None:
        r = c.get("/admin/dashboard?days=30")
        assert r.status_code == 200 and b"chart-cost" in r.data, r.status_code
    return run


LOAD: list[float] = []


def measure(clients: int, messages: int) -> list[tuple[str, float, float]]:
    LOAD.append(os.getloadavg()[0])
    pg = BenchPostgres()
    try:
        url = pg.fresh_database()
        t0 = time.perf_counter()
        seed(url, clients, messages)
        print(f"seeded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        app, svc = in_process(url)
        from app.reports.summary import ReportSettings, summary_for

        def summary(days: int) -> dict:
            return summary_for(svc.db, svc.clock.now(), ReportSettings.of(svc.settings),
                               svc.kb_store, days)

        rows = [("baseline: `flask --app app report --help` (process start-up only)",
                 *timed(cli(url, "--help"))),
                ("`report summary --json` (process, 30 days)", *timed(cli(url, "summary", "--json"))),
                ("`report summary --json --days 90` (process)",
                 *timed(cli(url, "summary", "--json", "--days", "90"))),
                ("summary in-process, 30 days", *timed(lambda: summary(30))),
                ("summary in-process, 90 days", *timed(lambda: summary(90))),
                ("GET /admin/dashboard?days=30", *timed(dashboard_get(app))),
                ("`report clients --csv` (process)", *timed(cli(url, "clients", "--csv"), 3))]
        svc.shutdown()
        LOAD.append(os.getloadavg()[0])
        return rows
    finally:
        pg.stop()


def table(rows: list[tuple[str, float, float]], clients: int, messages: int) -> str:
    def n(x: int) -> str:
        return f"{x:,}".replace(",", " ")

    lines = [HEADING, "",
             f"{n(clients)} clients, {n(messages)} messages ({n(messages // 2)} turns with usage "
             "and analysis), purchases, offers, reminders, alerts and funnel changes seeded by "
             "`bench/report_seed.py` over 90 days; embedded PostgreSQL, "
             f"{date.today().isoformat()}, 2 shared cores (1-minute load average "
             f"{min(LOAD):.1f}–{max(LOAD):.1f} during the run: other test suites were running). "
             f"Best / worst of {RUNS} runs after a warm-up (`report clients`: 3).", "",
             "| what | best, s | worst, s | target |", "|---|---:|---:|---|"]
    for name, best, worst in rows:
        target = "—" if "clients" in name or "baseline" in name else "< 2 s"
        lines.append(f"| {name} | {best:.2f} | {worst:.2f} | {target} |")
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    extra = ("\nThe process figures include Python start-up and the app's imports (the "
             "baseline row: every `flask` command pays it); the dashboard's is server-side time "
             "through the Flask test client, logged in.\n\n"
             "The report's own work (the in-process rows) stays well under 2 s; a `flask` process "
             "adds the start-up of the baseline row, so on a loaded machine its worst run can "
             "pass 2 s. No index was added: the two queries that first took 3 s and 8 s at this "
             "size (attribution probed the messages by time for every purchase, the KB gaps "
             "probed them by id for every turn; PostgreSQL combined each probe with an index "
             "spanning every dialog's messages of that time) became one window pass over "
             "messages and purchases, and a lookup through the dialog.\n\n"
             "Rerun: `.venv/bin/python bench/reports.py --write`.\n\n")
    body = section + extra
    doc = pattern.sub(body, doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + body
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--messages", type=int, default=100_000)
    a = ap.parse_args()
    result = table(measure(a.clients, a.messages), a.clients, a.messages)
    print(result)
    if a.write:
        write(result)
