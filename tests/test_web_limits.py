"""Request limits before any route runs (`dispatch.web.limits`), in process: bodies over
their route class's limit get 413 before authentication (declared by Content-Length or
counted while a chunked body streams), each class has its own limit, and too many or too
large headers get 431. The attacks on a real server are in test_web_attacks.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app
from dispatch.web.limits import BodyLimits
from support.api import SECRET, bearer, token

SMALL = {
    r"^max_body_form = .*$": "max_body_form = 2048",
    r"^max_body_json = .*$": "max_body_json = 8192",
    r"^max_body_upload = .*$": "max_body_upload = 65536",
    r"^max_headers = .*$": "max_headers = 20",
}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return config.load(write_config(tmp_path, database_url, SMALL))


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def chunks(size: int, piece: int = 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked): only counting can stop it."""
    sent = 0
    while sent < size:
        yield b" " * min(piece, size - sent)
        sent += piece


def test_route_classes() -> None:
    limits = BodyLimits(form=1, json=2, upload=3, max_headers=10, max_header_bytes=4096)
    upload = "multipart/form-data; boundary=x"
    assert limits.route_class("/api/media", upload) == "upload"
    assert limits.route_class("/admin/lists/weekly/import", upload) == "upload"
    assert limits.route_class("/admin/articles/import", upload) == "upload"
    assert limits.route_class("/subscribe", upload) == "form"  # files only where taken
    assert limits.route_class("/subscribe", "application/x-www-form-urlencoded") == "form"
    assert limits.route_class("/admin/articles/new", "application/x-www-form-urlencoded") == (
        "json"  # the editor's form carries a whole article
    )
    assert limits.route_class("/api/articles", "application/json") == "json"
    assert limits.route_class("/webhooks/sendgrid", "application/json") == "json"
    assert limits.route_class("/api/whoami", "") == "form"


def test_a_declared_oversized_json_body_is_refused_before_the_token_is_checked(
    client: TestClient,
) -> None:
    body = b'{"title": "' + b"x" * 9000 + b'"}'
    response = client.post(
        "/api/articles", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413  # not 401: the body is refused first
    assert response.headers["connection"] == "close"
    message = response.json()["error"]["message"]
    assert "9,013 bytes is over the 8,192-byte limit for json requests" in message


def test_a_chunked_body_is_stopped_while_it_streams(client: TestClient, db: Database) -> None:
    headers = {"content-type": "application/json", **bearer(token(db, "w", "articles:write"))}
    response = client.post("/api/articles", content=chunks(50_000), headers=headers)
    assert response.status_code == 413
    assert "the body is over the 8,192-byte limit" in response.json()["error"]["message"]


def test_each_route_class_has_its_own_limit(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    big_form = b"email=" + b"a" * 3000
    assert client.post("/subscribe", content=big_form, headers=form).status_code == 413
    assert client.post("/admin/login", content=big_form, headers=form).status_code == 413
    # The article editor's form may be as large as JSON: it gets to the login check.
    editor = client.post("/admin/articles/new", content=big_form, headers=form)
    assert editor.status_code in (303, 401, 403)
    picture = {"file": ("chart.png", b"\x89PNG" + b"0" * 30_000, "image/png")}
    upload = client.post("/api/media", files=picture)
    assert upload.status_code == 401  # an upload is allowed its size; then the token
    huge = {"file": ("chart.png", b"\x89PNG" + b"0" * 70_000, "image/png")}
    refused = client.post("/api/media", files=huge)
    assert refused.status_code == 413
    assert "for upload requests" in refused.json()["error"]["message"]
    # A file where the route takes none is a form: the small limit.
    assert client.post("/subscribe", files=picture).status_code == 413


def test_within_the_limit_the_route_answers_as_before(client: TestClient, db: Database) -> None:
    headers = bearer(token(db, "w", "articles:write"))
    made = client.post(
        "/api/articles", json={"title": "Small", "body_markdown": "Fits."}, headers=headers
    )
    assert made.status_code == 201


def test_a_bad_content_length_is_refused(settings: Settings, db: Database) -> None:
    from dispatch.web.limits import RequestLimits

    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the app must not run")

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    import asyncio

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/articles",
        "headers": [(b"content-length", b"12abc")],
    }
    middleware = RequestLimits(app, BodyLimits.of(settings.web))
    asyncio.run(middleware(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 400


def test_too_many_headers_get_431(client: TestClient) -> None:
    headers = {f"x-padding-{n}": "1" for n in range(30)}
    response = client.get("/healthz", headers=headers)
    assert response.status_code == 431
    assert "header fields, over the limit of 20" in response.json()["error"]["message"]
    assert client.get("/healthz").status_code == 200
