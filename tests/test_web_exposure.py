"""What the public port does not give away: /metrics only to the metrics token (404
when none is configured), or on its own listener (`[metrics] listen`); /healthz says ok
or not, and its details (the scheduler's lock holder names host and process) go only to
the token's holder or an admin's session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.metrics import Metrics
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.web import create_app
from dispatch.web.metrics import serve_separately
from support.admin import ADMIN, EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.live_server import free_port

TOKEN = "exposure-metrics-token-1234"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class FakeScheduler:
    def health(self) -> dict[str, Any]:
        return {"state": "running", "lock": "web-7.internal:4242"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "exposure-secret")
    monkeypatch.delenv("DISPATCH_METRICS_TOKEN", raising=False)


def test_metrics_are_not_served_without_a_token(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers=BEARER).status_code == 404


def test_metrics_need_the_bearer_token(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_METRICS_TOKEN", TOKEN)
    with TestClient(create_app(settings, db)) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401 and "Bearer" in missing.headers["www-authenticate"]
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401
        assert (
            client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        )
        scraped = client.get("/metrics", headers=BEARER)
    assert scraped.status_code == 200 and "dispatch_" in scraped.text


def test_the_token_can_come_from_a_file(tmp_path: Path, database_url: str, db: Database) -> None:
    secret = tmp_path / "metrics.token"
    secret.write_text(f"{TOKEN}\n")
    path = write_config(
        tmp_path, database_url, {r"^# token_file = .*$": f'token_file = "{secret}"'}
    )
    with TestClient(create_app(config.load(path), db)) as client:
        assert client.get("/metrics", headers=BEARER).status_code == 200
    secret.write_text("")
    with pytest.raises(ConfigError, match=r"metrics.token_file: .* is empty"):
        create_app(config.load(path), db)


def test_metrics_on_a_listener_of_their_own(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    path = write_config(
        tmp_path, database_url, {r'^# listen = "127.0.0.1:9100".*$': f'listen = "127.0.0.1:{port}"'}
    )
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    metrics = Metrics(database)
    metrics.sent.labels("memory").inc(2)
    stop = serve_separately(settings, metrics)
    assert stop is not None
    try:
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        stop()
        database.dispose()
    assert scraped.status_code == 200
    assert 'dispatch_messages_sent_total{sender="memory"} 2.0' in scraped.text


def test_a_bad_listen_address_is_a_config_error(tmp_path: Path, database_url: str) -> None:
    path = write_config(
        tmp_path, database_url, {r'^# listen = "127.0.0.1:9100".*$': 'listen = "9100"'}
    )
    with pytest.raises(ConfigError, match=r'metrics.listen.*"9100" is not HOST:PORT'):
        config.load(path)


def test_healthz_says_only_ok_in_public(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_METRICS_TOKEN", TOKEN)
    add_people(db)
    app = auth_app(settings, db, Sleeps())
    app.state.scheduler = FakeScheduler()
    with TestClient(app, follow_redirects=False) as client:
        public = client.get("/healthz")
        assert public.status_code == 200 and public.json() == {"status": "ok"}
        detailed = client.get("/healthz", headers=BEARER).json()
        assert detailed["scheduler"]["lock"] == "web-7.internal:4242"
        Admin(client, EDITOR)  # an editor who is not an admin sees what the public sees
        assert client.get("/healthz").json() == {"status": "ok"}
    with TestClient(app, follow_redirects=False) as client:
        Admin(client, ADMIN)
        assert client.get("/healthz").json()["scheduler"]["state"] == "running"
