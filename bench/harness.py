"""Shared harness for benchmarks and chaos runs: an embedded PostgreSQL, the local VK and
Gemini stand-ins (real HTTP servers on loopback, in this process) and the app under gunicorn
(a separate process group). Everything is loopback-only and torn down on exit: `rig()` owns
the teardown, `bench_args()` / `finish()` the command line and the verdict every script shares.
Independent of the tests' helpers (no `tests.pg`): the database is migrated by `app.platform.migrate`."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app.platform.migrate import alembic_config  # noqa: E402

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchPostgres:
    """One embedded server per bench run; a fresh migrated database per scenario."""

    def __init__(self) -> None:
        import pgserver

        self.dir = Path(tempfile.mkdtemp(prefix="neuro-bench-pg-"))
        self.server = pgserver.get_server(self.dir / "pg", cleanup_mode="delete")
        self.admin_url = self.server.get_uri("postgres").replace(
            "postgresql://", "postgresql+psycopg2://", 1)
        # PostgreSQL's default 100 connections suffice: each app process pools at most ~20.

    def fresh_database(self) -> str:
        name = "b_" + uuid.uuid4().hex[:10]
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = self.admin_url.replace("/postgres?", f"/{name}?", 1)
        command.upgrade(alembic_config(url), "head")
        return url

    def stop(self) -> None:
        self.server.cleanup()


def app_env(database_url: str, vk_base_url: str, gemini_base_url: Optional[str] = None,
            **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "VK_"))}
    env.update({
        "DATABASE_URL": database_url, "VK_GROUP_ID": "1", "VK_GROUP_TOKEN": "bench-token",
        "VK_API_BASE_URL": vk_base_url, "VK_SECRET": "bench-secret",
        "VK_CONFIRMATION_CODE": "bench-code", "KNOWLEDGE_BASE_PATH": str(ROOT / "knowledge_base.json"),
        "DEBOUNCE_SECONDS": "1", "QUIET_HOURS": "off", "ADMIN_PASSWORD": "bench",
        "SECRET_KEY": "harness-signing-key-0123456789abcdef0123456789",
        "PYTHONPATH": str(ROOT),
    })
    if gemini_base_url:
        env.update({"GEMINI_API_KEY": "bench-key", "GEMINI_BASE_URL": gemini_base_url,
                    "GEMINI_TIMEOUT_S": "20"})
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int = 1, threads: int = 8,
                 app: str = "app:create_app()", port: Optional[int] = None,
                 graceful_s: float = 5) -> None:
        self.port = port or free_port()
        self.env = {**env, "WEB_CONCURRENCY": str(workers)}  # the app splits VK's 20/s by it
        self.args = [GUNICORN, app, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                     "--threads", str(threads), "--worker-class", "gthread", "--timeout", "120",
                     "--graceful-timeout", str(graceful_s), "--log-level", "warning"]
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_s: float = 60.0, log_path: Optional[str] = None) -> "Gunicorn":
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=str(ROOT), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()  # its workers may be alive: never leave a half-started server behind
        raise RuntimeError("gunicorn did not become healthy")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill9(self) -> None:
        """SIGKILL the whole process group: master and workers die mid-flight."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def post_json(url: str, body: Any, headers: Optional[dict] = None, timeout: float = 10) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def message_event(peer_id: int, text_: str, event_id: str, msg_id: int,
                  secret: str = "bench-secret") -> dict[str, Any]:
    return {"type": "message_new", "group_id": 1, "event_id": event_id, "v": "5.199",
            "secret": secret,
            "object": {"message": {"id": msg_id, "date": int(time.time()), "peer_id": peer_id,
                                   "from_id": peer_id, "text": text_, "attachments": []},
                       "client_info": {"keyboard": True}}}


@contextmanager
def stand_ins(gemini_responder: Any = None) -> Iterator[tuple[Any, Any]]:
    """The fake VK (always) and the fake Gemini (when a responder is given)."""
    from app.devchat.vk_http import VkHttpServer
    from tests.fakes.gemini_server import FakeGeminiServer

    vk = VkHttpServer().start()
    gemini = FakeGeminiServer(gemini_responder).start() if gemini_responder else None
    try:
        yield vk, gemini
    finally:
        vk.stop()
        if gemini is not None:
            gemini.stop()


@dataclass
class Rig:
    """What one run stands on; everything here is stopped when `rig()` exits."""

    pg: BenchPostgres
    url: str
    vk: Any
    gemini: Any
    stack: ExitStack

    @property
    def log_path(self) -> Path:
        return self.pg.dir / "gunicorn.log"

    def env(self, **extra: Any) -> dict[str, str]:
        return app_env(self.url, self.vk.base_url,
                       self.gemini.base_url if self.gemini is not None else None, **extra)

    def gunicorn(self, env: dict[str, str], workers: int = 2, threads: int = 8,
                 log: bool = True, **kw: Any) -> Gunicorn:
        """Start the app (stopped on exit, also when it fails to become healthy)."""
        return serve(self.stack, env, workers, threads,
                     str(self.log_path) if log else None, **kw)


def serve(stack: ExitStack, env: dict[str, str], workers: int, threads: int,
          log_path: Optional[str] = None, **kw: Any) -> Gunicorn:
    """Start a gunicorn whose stop is owned by `stack` (registered before it starts, so a
    server that never became healthy is not left running)."""
    g = Gunicorn(env, workers, threads, **kw)
    stack.callback(g.stop)
    return g.start(log_path=log_path)


@contextmanager
def rig(vk_emulator: Any = None, gemini_responder: Any = None) -> Iterator[Rig]:
    """A fresh migrated database, the fake VK (with `vk_emulator`), the fake Gemini (when a
    responder is given) and every gunicorn started by `Rig.gunicorn`, torn down in reverse
    order however the run ends."""
    from app.devchat.vk_http import VkHttpServer
    from tests.fakes.gemini_server import FakeGeminiServer

    with ExitStack() as stack:
        pg = BenchPostgres()
        stack.callback(pg.stop)
        vk = VkHttpServer(vk_emulator).start()
        stack.callback(vk.stop)
        gemini = None
        if gemini_responder is not None:
            gemini = FakeGeminiServer(gemini_responder).start()
            stack.callback(gemini.stop)
        yield Rig(pg, pg.fresh_database(), vk, gemini, stack)


def wait_idle(engine: Any, limit_s: float, poll_s: float = 0.5) -> bool:
    """Wait until no dialog has a reply due (every turn ran); False when `limit_s` ran out."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        with engine.connect() as c:
            if c.execute(text("select count(*) from dialogs where reply_due_at is not null")
                         ).scalar_one() == 0:
                return True
        time.sleep(poll_s)
    return False


def bench_args(doc: Optional[str], quick: str = "a smaller, faster run") -> argparse.ArgumentParser:
    """The options every bench script has; add its own and call `parse_args()`."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    return ap


def finish(ok: bool, args: argparse.Namespace, section: str, body: str, rerun: str,
           notes: Iterable[str] = ()) -> int:
    """Print the notes and the verdict; with --write put `body` (and the notes) under
    `### section` of docs/benchmarks.md. Returns the exit code."""
    from bench.fake_model import update_doc

    notes = list(notes)
    if notes:
        print("Notes:\n" + "\n".join("- " + x for x in notes))
    if args.write:
        if notes:
            body += "\n\nFirst failures seen:\n\n" + "\n".join(
                "- `" + x.replace("`", "'").replace("|", "/") + "`" for x in notes)
        update_doc(section, body + f"\n\nRerun: `{rerun}`")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
