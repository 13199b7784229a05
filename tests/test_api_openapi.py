"""The OpenAPI document at /api/openapi.json: a valid OpenAPI 3 document (checked by
openapi-spec-validator) that lists every /api route and nothing else, with the bearer
scheme and JSON errors; and schemathesis fuzzing of every operation against it
(authenticated, bounded examples): no 5xx, every response as documented."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.web import create_app
from support.api import SECRET, bearer, declared_routes, token
from support.campaigns import add_subscribers

# Examples per operation and generation mode: about 20 s a backend at 12; CI or a
# developer may raise it (DISPATCH_FUZZ_EXAMPLES=200) for a deeper run.
FUZZ_EXAMPLES = int(os.environ.get("DISPATCH_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db)


@pytest.fixture
def document(app: FastAPI) -> Iterator[dict[str, Any]]:
    with TestClient(app) as client:
        response = client.get("/api/openapi.json")  # no token needed to read the schema
        assert response.status_code == 200
        yield response.json()


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_it_lists_every_api_route_and_nothing_else(document: dict[str, Any]) -> None:
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert listed == declared_routes()
    assert all(path.startswith("/api/") for path in document["paths"])


def test_operations_declare_bearer_auth_and_json_errors(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"bearer": []}], (method, path)
            statuses = ["401"]
            if path != "/api/whoami":  # any token may ask who it is
                statuses.append("403")
            if operation.get("parameters") or operation.get("requestBody"):
                statuses.append("422")
            for status in statuses:
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == error, (method, path, status)


def seed(client: TestClient, db: Database) -> None:
    """Something for the fuzzer to find: ids 1 exist for articles, subscribers, campaigns."""
    made = client.post(
        "/api/articles", json={"title": "Seed", "body_markdown": "Seed.", "section": "world"}
    )
    assert made.status_code == 201
    assert client.post("/api/subscribers", json={"email": "seed@example.org"}).status_code == 201
    add_subscribers(db, "morning-briefing", 3)
    for _ in range(3):
        note = {"kind": "note", "list": "morning-briefing", "subject": "S", "body_markdown": "B"}
        assert client.post("/api/campaigns", json=note).status_code == 201


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    app: FastAPI, db: Database
) -> None:
    headers = bearer(token(db, "fuzzer", "admin"))
    with TestClient(app, headers=headers) as client:
        seed(client, db)
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        failures = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in schemathesis.GenerationMode:
                try:
                    fuzz(operation, mode, headers)
                except Exception as exc:  # collected: one report for every operation
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def fuzz(operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
