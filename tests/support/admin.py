"""Helpers for admin page tests: a logged-in TestClient that adds the CSRF token to
every form it posts, and the editors most tests use."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from support.auth import PASSWORD, add_editor, post_login

ADMIN, EDITOR = "ada@example.com", "bob@example.com"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def add_people(db: Database) -> None:
    add_editor(db, ADMIN, EditorRole.ADMIN)
    add_editor(db, EDITOR, EditorRole.EDITOR)


class Admin:
    """`client` logged in as `email`; `post` sends the session's CSRF token."""

    def __init__(self, client: TestClient, email: str) -> None:
        self.client = client
        response = post_login(client, email, PASSWORD)
        assert response.status_code == 303, response.text
        found = CSRF.search(client.get("/admin").text)
        assert found, "no CSRF field on the dashboard"
        self.csrf = found.group(1)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)
