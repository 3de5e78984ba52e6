"""Adapters' collaborators on the Flask app: an adapter's `init_app(app, deps)` installs its
typed deps object; its views and click commands read it back with `deps_of(TheDeps)`."""
from __future__ import annotations

from typing import Optional, TypeVar, cast

from flask import Flask, current_app

T = TypeVar("T")


def _key(kind: type) -> str:
    return f"deps:{kind.__module__}.{kind.__qualname__}"


def install(app: Flask, deps: object) -> None:
    app.extensions[_key(type(deps))] = deps


def deps_of(kind: type[T], app: Optional[Flask] = None) -> T:
    return cast(T, (app or current_app).extensions[_key(kind)])
