from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatch.errors import NotFound
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, Suppression
from dispatch.subscribers import (
    add_subscriber,
    erase_subscriber,
    import_subscribers,
    suppress_address,
)
from test_subscribers_import import LIST, write


def test_erase_removes_the_person_everywhere_and_nobody_else(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "email,name,city\nann@example.com,Ann,Leeds\nbob@example.com,Bob,York\n")
    import_subscribers(db, path, LIST)
    with db.session() as session:
        add_subscriber(session, "weekly-review", "Ann@EXAMPLE.com".lower(), name="Ann")
        suppress_address(session, "ANN@example.com", "complaint")  # stored as ann@example.com
    with db.session() as session:
        erasure = erase_subscriber(session, " ANN@Example.com ")
    assert (erasure.email, erasure.subscriber, erasure.subscriptions) == ("ann@example.com", 1, 2)
    assert erasure.suppressions == 1
    with db.session() as session:
        assert session.scalars(select(Subscriber.email)).all() == ["bob@example.com"]
        assert session.scalar(select(func.count()).select_from(Subscription)) == 1
        assert session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_erase_a_suppression_only_and_unknown_addresses(db: Database) -> None:
    with db.session() as session:
        suppress_address(session, "gone@example.com")
    with db.session() as session:
        erasure = erase_subscriber(session, "gone@example.com")
    assert (erasure.subscriber, erasure.suppressions) == (0, 1)
    with db.session() as session, pytest.raises(NotFound, match=r"nobody@example\.com"):
        erase_subscriber(session, "nobody@example.com")
