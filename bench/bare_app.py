"""The baseline for bench/webhook.py: a bare Flask app that reads the body of
POST /vk/callback and answers "ok" (plus GET /healthz, which the harness polls at start-up).
No JSON parsing, no database: what gunicorn + Flask cost on their own.

    gunicorn 'bench.bare_app:create_app()' --worker-class gthread ...
"""
from __future__ import annotations

from flask import Flask, Response, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/vk/callback")
    def callback() -> Response:
        request.get_data(cache=False)
        return Response("ok", mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"ok": true}', mimetype="application/json")

    return app
