"""Issue 16.9: logout kills a copied session cookie; a new password ends old sessions; the login
limiter is shared by workers (PostgreSQL) and its memory is bounded."""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import func, select

from app.composition.factory import parts as services
from app.models import LoginFailure


def _login(c: Any, password: str = "admin-pass", ip: str = "127.0.0.1") -> int:
    c.get("/admin/login", environ_base={"REMOTE_ADDR": ip})
    with c.session_transaction() as sess:
        tok = sess["csrf_token"]
    return c.post("/admin/login", data={"password": password, "csrf_token": tok},
                  environ_base={"REMOTE_ADDR": ip}).status_code


def _cookie(c: Any) -> str:
    return c.get_cookie("session").value


def test_logout_invalidates_a_copied_cookie(app: Any) -> None:
    c = app.test_client()
    assert _login(c) == 302
    stolen = _cookie(c)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/admin/").status_code == 200
    with c.session_transaction() as sess:
        tok = sess["csrf_token"]
    c.post("/admin/logout", data={"csrf_token": tok})
    assert c.get("/admin/").status_code == 302
    assert thief.get("/admin/").status_code == 302  # the copy died with the logout


def test_two_logins_are_separate_sessions(app: Any) -> None:
    a, b = app.test_client(), app.test_client()
    assert _login(a) == 302 and _login(b) == 302
    with a.session_transaction() as sess:
        tok = sess["csrf_token"]
    a.post("/admin/logout", data={"csrf_token": tok})
    assert b.get("/admin/").status_code == 200  # the other login is untouched


def test_a_new_password_ends_old_sessions(make_app: Callable[..., Any]) -> None:
    old = make_app(admin_password="first-pass")
    c = old.test_client()
    assert _login(c, "first-pass") == 302
    cookie = _cookie(c)
    new = make_app(admin_password="second-pass", secret_key=old.config["SECRET_KEY"])
    moved = new.test_client()
    moved.set_cookie("session", cookie)
    assert moved.get("/admin/").status_code == 302


def test_the_limiter_is_shared_by_two_workers(make_app: Callable[..., Any]) -> None:
    first, second = make_app(), make_app()
    for n in range(5):
        app = first if n % 2 == 0 else second
        assert _login(app.test_client(), "wrong", ip="203.0.113.7") == 401
    assert _login(first.test_client(), ip="203.0.113.7") == 429
    assert _login(second.test_client(), ip="203.0.113.7") == 429  # the other worker knows
    assert _login(second.test_client(), ip="203.0.113.8") == 302  # another address is free


def test_the_limiter_forgets_ended_windows(app: Any, clock: Any) -> None:
    for i in range(300):
        _login(app.test_client(), "wrong", ip=f"198.51.100.{i % 250}.{i}")
    with services(app).db.session() as s:
        assert s.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 300
    clock.advance(301)
    assert _login(app.test_client(), "wrong", ip="192.0.2.1") == 401
    with services(app).db.session() as s:
        assert s.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 1
    assert _login(app.test_client(), ip="198.51.100.1.1") == 302
