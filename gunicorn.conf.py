"""gunicorn hooks: each worker process starts its background parts after loading the app, and
on SIGTERM (every deploy) or when its master dies, drains its turns: it stops claiming, lets
turns that finish within SHUTDOWN_DRAIN_S finish, and releases the rest to the next process
at once (see app/runtime/inflight.py)."""
from __future__ import annotations


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn hook
    from app import start_background
    from app.composition.factory import parts

    if "neuro" not in getattr(worker.wsgi, "extensions", {}):
        return  # not our app (bench/bare_app.py runs under the same config)
    if parts(worker.wsgi).settings.start_workers:
        start_background(worker.wsgi)


def worker_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook
    from app.composition.factory import stop_background

    app = getattr(worker, "wsgi", None)
    if app is None or "neuro" not in getattr(app, "extensions", {}):
        return
    released = stop_background(app)
    worker.log.info("worker %s stopped; %d turn(s) released to the next process", worker.pid,
                    released)
