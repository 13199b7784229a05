"""Images through the web: `/media/…` served for good (immutable), uploaded in the admin
(alt text required) and through the API, refused clearly when they are not images."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dispatch.config import Settings
from dispatch.media.store import MediaStore
from dispatch.store.database import Database
from dispatch.web import create_app
from support.admin import EDITOR, Admin, add_people
from support.api import SECRET, api_client, bearer, token
from support.auth import Sleeps, auth_app
from support.images import NOT_AN_IMAGE, camera_jpeg, chart_png, huge_png


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def _upload(admin: Admin, data: bytes, alt: str, name: str = "chart.png"):
    return admin.post(
        "/admin/media",
        data={"alt": alt},
        files={"file": (name, data, "image/png")},
        headers={"Accept": "application/json"},
    )


def test_admin_upload_stores_and_serves_an_image(admin: Admin, settings: Settings) -> None:
    response = _upload(admin, camera_jpeg(), "A ferry at dusk", "ferry.jpg")
    assert response.status_code == 201, response.text
    image = response.json()
    assert image["markdown"] == f"![A ferry at dusk]({image['url']})"
    assert (image["width"], image["height"]) == (600, 800)
    path = image["url"].removeprefix(settings.site.base_url)
    served = admin.get(path)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.content == (settings.feeds.public_dir / path.removeprefix("/")).read_bytes()
    head = admin.client.head(path)
    assert head.status_code == 200 and head.content == b""
    again = admin.get(path, headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    assert admin.get(path.replace("-600.jpg", ".json")).status_code == 404  # private
    assert admin.get("/media/../config.toml").status_code == 404


@pytest.mark.parametrize(
    ("data", "alt", "message"),
    [
        (chart_png(), "  ", "alt text is required"),
        (NOT_AN_IMAGE, "A chart", "chart.png: not an image"),
        (huge_png(), "A poster", "50.0 megapixels, over the 40-megapixel limit"),
    ],
)
def test_admin_upload_refusals(
    admin: Admin, settings: Settings, data: bytes, alt: str, message: str
) -> None:
    response = _upload(admin, data, alt)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not (settings.feeds.public_dir / "media").exists()


def test_admin_upload_without_script_shows_the_markdown(admin: Admin) -> None:
    response = admin.post(
        "/admin/media", data={"alt": "Chart"}, files={"file": ("c.png", chart_png(), "image/png")}
    )
    assert response.status_code == 201
    assert "![Chart](" in response.text


def test_admin_upload_needs_a_session_and_its_csrf_token(settings: Settings, db: Database) -> None:
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as anonymous:
        refused = anonymous.post("/admin/media", files={"file": ("c.png", chart_png())})
        assert refused.status_code in (401, 303)
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        Admin(client, EDITOR)
        forged = client.post("/admin/media", data={"alt": "x", "csrf_token": "0" * 64})
        assert forged.status_code == 403


def test_api_upload(settings: Settings, db: Database) -> None:
    with api_client(settings, db, "articles:write") as client:
        created = client.post(
            "/api/media", data={"alt": "Fares"}, files={"file": ("fares.png", chart_png())}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert MediaStore.of(settings).info(body["url"]) is not None
        assert body["url_2x"].endswith("-1200.png") and body["bytes"] > 0
        bad = client.post("/api/media", files={"file": ("x.png", NOT_AN_IMAGE)})
        assert bad.status_code == 422
        assert bad.json()["error"] == {
            "message": "x.png: not an image (JPEG, PNG, GIF or WebP expected)",
            "field": "body.file",
        }
        used = client.post(
            "/api/articles",
            json={
                "title": "Fares",
                "body_markdown": body["markdown"],
                "image": body["url"],
                "image_alt": "Fares",
            },
        )
        assert used.status_code == 201
        assert f'srcset="{body["url"]} 1x, {body["url_2x"]} 2x"' in used.json()["body_html"]
    reader = token(db, "reader", "articles:read")
    with TestClient(create_app(settings, db)) as client:
        denied = client.post(
            "/api/media", headers=bearer(reader), files={"file": ("c.png", chart_png())}
        )
        assert denied.status_code == 403
