"""Helpers for auth tests: a cheap argon2 hasher, editors in the database, an app whose
failed-login delays are recorded instead of slept."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from httpx import Client, Response
from limits.storage import Storage

from dispatch.auth.editors import create_editor
from dispatch.auth.passwords import Passwords
from dispatch.auth.services import AuthServices
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.store.types import utcnow
from dispatch.web import create_app

PASSWORD = "correct horse battery"


def cheap_hasher() -> PasswordHasher:
    """argon2id with tiny costs: fast tests, same code paths."""
    return PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


class Sleeps:
    """An async sleep that records what it was asked to wait, and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def add_editor(
    db: Database,
    email: str,
    role: EditorRole = EditorRole.EDITOR,
    password: str = PASSWORD,
    hasher: PasswordHasher | None = None,
) -> int:
    with db.session() as session:
        editor = create_editor(session, Passwords(hasher or cheap_hasher()), email, password, role)
        return editor.id


def auth_app(
    settings: Settings,
    db: Database,
    sleeps: Sleeps,
    clock: Callable[[], datetime] = utcnow,
    storage: Storage | None = None,
) -> FastAPI:
    app = create_app(settings, db, clock=clock)
    app.state.auth = AuthServices.build(
        settings, clock, hasher=cheap_hasher(), sleep=sleeps, storage=storage
    )
    return app


LOGIN_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def login_csrf(client: Client) -> str:
    """The login form's CSRF token (GET /admin/login also sets the cookie it is bound to).
    A logged-in browser is sent on from the form: its session cookie is set aside first,
    as logging in as someone else replaces it anyway. `client`: a TestClient, or an
    httpx.Client on a live server."""
    for name in [name for name in client.cookies if name.endswith("dispatch_admin")]:
        client.cookies.delete(name)
    found = LOGIN_CSRF.search(client.get("/admin/login").text)
    assert found, "no CSRF field on the login form"
    return found.group(1)


def post_login(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Response:
    """Log in as a browser does: load the form, post it with its token."""
    data = {"email": email, "password": password, "csrf_token": login_csrf(client), **extra}
    return client.post("/admin/login", data=data)
