"""Real services for scale-out tests: a PostgreSQL schema of their own.

Without DISPATCH_TEST_DATABASE_URL such tests skip, unless DISPATCH_REQUIRE_SERVICES=1
(CI): then they fail, naming what is missing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "DISPATCH_TEST_DATABASE_URL"
REQUIRE_ENV = "DISPATCH_REQUIRE_SERVICES"


@contextmanager
def postgresql_schema() -> Iterator[str]:
    """The URL of a fresh schema, dropped afterwards."""
    if not os.environ.get(PG_ENV):
        message = f"this test needs PostgreSQL: set {PG_ENV}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1)")
        pytest.skip(message)
    base = make_url(os.environ[PG_ENV])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)  # fails, never skips, when PostgreSQL is down
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
