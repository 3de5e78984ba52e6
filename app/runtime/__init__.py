"""Generic threads fed callables: the worker pool, the leader's jobs, the KB watcher and the
turns in flight. Nothing here imports turn or reminder code."""
from app.runtime.inflight import InFlight, Lease
from app.runtime.kb_watcher import KbWatcher, generation, request_reload
from app.runtime.leader import Job, Leader, LeaderLock
from app.runtime.workers import WorkerPool

__all__ = ["InFlight", "Job", "KbWatcher", "Leader", "LeaderLock", "Lease", "WorkerPool",
           "generation", "request_reload"]
