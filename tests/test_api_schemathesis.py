"""schemathesis against /api/openapi.json with every check it has (not only "no 5xx"):
positive data accepted, negative data rejected, documented statuses, content types and
headers, schemas of responses, auth really checked, Allow headers, deleted things gone.
Bounded: a few examples per operation and mode, on SQLite, in about half a minute
(DISPATCH_FUZZ_EXAMPLES raises it). test_api_openapi.py keeps its deeper 5-check run."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CHECKS, load_all_checks

from conftest import write_config
from dispatch import config
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.api import SECRET, bearer, token
from support.images import chart_png
from test_api_openapi import seed

EXAMPLES = int(os.environ.get("DISPATCH_FUZZ_EXAMPLES", "2"))
BUDGET_SECONDS = 120  # a guard: the run is meant to take about 30 s


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def all_checks() -> list[Any]:
    load_all_checks()
    return list(CHECKS.get_all())


def test_every_schemathesis_check_passes(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'dispatch.db'}"))
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    app: FastAPI = create_app(settings, database)
    headers = bearer(token(database, "fuzzer", "admin"))
    checks = all_checks()
    started = time.monotonic()
    failures: list[str] = []
    with TestClient(app, headers=headers) as client:
        seed(client, database)
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in schemathesis.GenerationMode:
                try:
                    fuzz(operation, mode, headers, checks)
                except (Exception, BaseExceptionGroup) as exc:  # one report for all
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    database.dispose()
    elapsed = time.monotonic() - started
    print(f"\nschemathesis, {len(checks)} checks: {elapsed:.1f} s")
    assert not failures, "\n\n".join(failures)
    assert elapsed < BUDGET_SECONDS


def meaningful(case: Any) -> Any:
    """Positive cases where the schema cannot say everything: an image upload gets a real
    image (the schema says binary), a schedule a future time (the schema says date-time;
    "in the future" is in its description), a new article a title (or a heading)."""
    label = case.operation.label
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return case  # a positive strategy may still hold a negative part: leave it be
    untitled = isinstance(case.body, dict) and not (case.body.get("title") or "").strip()
    if label == "POST /api/articles" and untitled:
        # A title, or a heading in the body that becomes one: the schema cannot say "or".
        case.body = {**case.body, "title": "A title"}
    if label == "POST /api/media" and isinstance(case.body, dict):
        case.body = {**case.body, "file": chart_png()}
    elif label.endswith("/schedule") and label.startswith("POST") and isinstance(case.body, dict):
        case.body = {**case.body, "at": (utcnow() + timedelta(days=2)).isoformat()}
    return case


def fuzz(operation: Any, mode: Any, headers: dict[str, str], checks: list[Any]) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    if mode == schemathesis.GenerationMode.POSITIVE:
        strategy = strategy.map(meaningful)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        chosen = checks
        if case.operation.label == "POST /api/media" and mode.is_positive:
            # The real image put in by `meaningful` reads, to that check, as a negative
            # case accepted; the negative mode of the same operation runs it.
            chosen = [c for c in checks if c.__name__ != "negative_data_rejection"]
        case.call_and_validate(headers=headers, checks=chosen)

    check()
