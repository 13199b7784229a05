"""Identity that cannot be inherited: after `subscribers delete` of Ann and a sign-up by
Bea, Ann's old links (unsubscribe, preferences, confirm) say "no longer valid" and never
show or change Bea's subscriptions, whether Bea got a new id (always, since ids are never
reused) or, forced, Ann's very id (the per-person key still tells them apart). Links in
mail sent before migration 0015a keep working for the people stored before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Subscriber, Subscription, SubscriptionStatus
from dispatch.store.types import utcnow
from dispatch.subscribers import optin
from dispatch.tokens import Tokens
from dispatch.web import create_app
from test_addresses_migration import insert
from test_tokens import legacy

DOUBLE, OTHER = "morning-briefing", "weekly-review"
ANN, BEA = "ann@example.com", "bea@example.com"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "link-identity-secret")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client


def sign_up(db: Database, email: str, *lists: str) -> tuple[int, str]:
    with db.session() as session:
        optin.sign_up(session, email, "", list(lists), utcnow())
    with db.session() as session:
        row = session.execute(
            select(Subscriber.id, Subscriber.token_key).where(Subscriber.email == email)
        ).one()
    return row.id, row.token_key


def statuses(db: Database, email: str) -> dict[str, SubscriptionStatus]:
    with db.session() as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == email))
        assert person is not None
        return {s.mailing_list.slug: s.status for s in person.subscriptions}


def links(tokens: Tokens, person: int, key: str) -> list[str]:
    return [
        f"/unsubscribe/{tokens.unsubscribe(person, DOUBLE, key)}",
        f"/unsubscribe/{tokens.unsubscribe(person, OTHER, key)}",
        f"/preferences/{tokens.preferences(person, key)}",
        f"/confirm/{tokens.confirm(person, DOUBLE, key)}",
    ]


def assert_dead(client: TestClient, urls: list[str]) -> None:
    for url in urls:
        for response in (
            client.get(url),
            client.post(url, data={"action": "leave"}),
            client.post(url, content=b"List-Unsubscribe=One-Click"),
        ):
            assert response.status_code == 400, url
            assert "This link is no longer valid" in response.text, url
            assert BEA not in response.text


def test_ids_are_never_reused_after_a_delete(db: Database, cli: Callable[..., Result]) -> None:
    first, _ = sign_up(db, ANN, DOUBLE)
    assert cli("subscribers", "delete", ANN, "--yes").exit_code == 0
    second, _ = sign_up(db, BEA, DOUBLE)
    assert second > first  # SQLite without AUTOINCREMENT handed `first` out again


def test_an_erased_persons_links_never_reach_the_next_sign_up(
    client: TestClient, db: Database, settings: Settings, cli: Callable[..., Result]
) -> None:
    ann, ann_key = sign_up(db, ANN, DOUBLE, OTHER)
    old = links(Tokens(settings.secret_key), ann, ann_key)
    assert client.get(old[2]).status_code == 200  # alive while Ann is stored
    assert cli("subscribers", "delete", ANN, "--yes").exit_code == 0
    sign_up(db, BEA, DOUBLE, OTHER)

    assert_dead(client, old)
    assert statuses(db, BEA) == {
        DOUBLE: SubscriptionStatus.PENDING,
        OTHER: SubscriptionStatus.PENDING,
    }


def test_a_key_tells_people_apart_even_on_the_same_id(
    client: TestClient, db: Database, settings: Settings, cli: Callable[..., Result]
) -> None:
    """Were an id ever handed out again (a restored backup, a hand-made row), the old
    holder's links would still not fit the new one."""
    ann, ann_key = sign_up(db, ANN, DOUBLE)
    assert cli("subscribers", "delete", ANN, "--yes").exit_code == 0
    with db.session() as session:
        session.add(Subscriber(id=ann, email=BEA, name="Bea", attributes={}))
    with db.session() as session:
        optin.sign_up(session, BEA, "", [DOUBLE], utcnow())
    tokens = Tokens(settings.secret_key)

    assert_dead(client, links(tokens, ann, ann_key))
    secret = settings.secret_key.get_secret_value()
    keyless = [
        f"/unsubscribe/{legacy(secret, 'unsubscribe', [ann, DOUBLE])}",
        f"/preferences/{legacy(secret, 'preferences', [ann])}",
    ]
    assert_dead(client, keyless)  # Bea was stored after keys came: no keyless link fits
    assert statuses(db, BEA) == {DOUBLE: SubscriptionStatus.PENDING}
    _, bea_key = sign_up(db, BEA, DOUBLE)
    assert client.get(links(tokens, ann, bea_key)[2]).status_code == 200  # her own key: hers


# Migration 0015a on a store filled before it.


@pytest.fixture
def old_store(settings: Settings) -> Iterator[tuple[Database, dict[str, int]]]:
    database = Database(settings.database)
    migrate.upgrade(database.engine, "0012a")
    with database.engine.begin() as c:
        lists = {
            slug: insert(c, "lists", slug=slug, name=slug, from_email="n@example.org")
            for slug in (DOUBLE, OTHER)
        }
        ids = {
            email: insert(c, "subscribers", email=email, name="", attributes={})
            for email in ("old@example.com", "top@example.com")
        }
        for person in ids.values():
            for list_id in lists.values():
                insert(
                    c,
                    "subscriptions",
                    subscriber_id=person,
                    list_id=list_id,
                    status="confirmed",
                )
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    yield database, ids
    database.dispose()


def test_links_sent_before_the_migration_keep_working(
    old_store: tuple[Database, dict[str, int]], settings: Settings
) -> None:
    database, ids = old_store
    secret = settings.secret_key.get_secret_value()
    person = ids["old@example.com"]
    with TestClient(create_app(settings, database)) as client:
        page = client.get(f"/preferences/{legacy(secret, 'preferences', [person])}")
        assert page.status_code == 200 and "old@example.com" in page.text
        one_click = client.post(
            f"/unsubscribe/{legacy(secret, 'unsubscribe', [person, DOUBLE])}",
            content=b"List-Unsubscribe=One-Click",
        )
        assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert statuses(database, "old@example.com") == {
        DOUBLE: SubscriptionStatus.UNSUBSCRIBED,
        OTHER: SubscriptionStatus.CONFIRMED,
    }
    with database.session() as session:
        keys = session.execute(select(Subscriber.token_key, Subscriber.legacy_links)).all()
    assert all(key and len(key) == 16 and legacy_ok for key, legacy_ok in keys)
    assert len({key for key, _ in keys}) == len(keys)


def test_after_the_migration_the_highest_old_id_is_not_handed_out_again(
    old_store: tuple[Database, dict[str, int]], settings: Settings
) -> None:
    database, ids = old_store
    top = ids["top@example.com"]
    with database.session() as session:
        session.execute(sa.delete(Subscription).where(Subscription.subscriber_id == top))
        session.execute(sa.delete(Subscriber).where(Subscriber.id == top))
    newcomer, _ = sign_up(database, "new@example.com", DOUBLE)
    assert newcomer > top
    secret = settings.secret_key.get_secret_value()
    with TestClient(create_app(settings, database)) as client:
        stale = client.get(f"/preferences/{legacy(secret, 'preferences', [top])}")
        assert stale.status_code == 400 and "new@example.com" not in stale.text
