"""`dispatch db copy`: a populated SQLite store, built through the real commands, copied to
PostgreSQL (and to SQLite) with every row kept, checked by counts and checksums per table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update
from typer.testing import CliRunner, Result

from conftest import DATA, write_config
from dispatch import config
from dispatch.audit import Actor, record
from dispatch.auth.editors import create_editor
from dispatch.auth.passwords import Passwords
from dispatch.auth.session_store import open_session
from dispatch.auth.tokens import create_token
from dispatch.cli import app
from dispatch.events import sendgrid_events, store_events
from dispatch.scheduler import SchedulerService
from dispatch.store import migrate
from dispatch.store.copy import table_digest, tables, verify
from dispatch.store.database import Database, make_engine
from dispatch.store.models import Delivery, EditorRole, Subscriber, Subscription, Suppression
from dispatch.store.types import utcnow
from dispatch.subscribers.renormalise import renormalise
from support.scheduling import job_context
from support.services import postgresql_schema
from support.upstream_server import feed, feed_server

REQUIRE = "DISPATCH_REQUIRE_SERVICES"
Run = Callable[..., Result]


def runner(config_path: Path) -> Run:
    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(app, ["--config", str(config_path), *args], input=input)
        assert result.exit_code in (0, 1, 2), result.output
        return result

    return run


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite store with rows in every table, written by Dispatch's own code paths."""
    folder = tmp_path_factory.mktemp("source")
    url = f"sqlite:///{folder / 'var' / 'dispatch.db'}"
    path = write_config(folder, url)
    with feed_server() as server:
        server.serve("/feed/", feed((DATA / "upstream" / "wordpress.xml").read_bytes()))
        source_url = server.url("/feed/")
        extra = f'\n[[upstream.sources]]\nurl = "{source_url}"\nname = "harbour"\n'
        extra += 'section = "technology"\n'
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
        run = runner(path)
        ok(run("init"))
        ok(run("upstream", "poll", "--all"))
    _populate(run, folder)
    settings = config.load(path)
    database = Database(settings.database)
    _events_accounts_and_jobs(database, settings)
    database.dispose()
    yield url


def _populate(run: Run, folder: Path) -> None:
    ok(run("articles", "import", str(DATA / "articles"), str(DATA / "article-plain.txt")))
    moved = folder / "moved.md"
    body = "---\ntitle: A moved story\nslug: {slug}\ndate: 2026-03-01T08:00:00Z\n---\nText.\n"
    moved.write_text(body.format(slug="old-place"), encoding="utf-8")
    ok(run("articles", "import", str(moved)))
    moved.write_text(body.format(slug="new-place"), encoding="utf-8")
    ok(run("articles", "import", str(moved)))  # leaves an article_slugs row
    ok(run("articles", "unpublish", "new-place"))  # an editor's change: the source now waits
    moved.write_text(body.format(slug="new-place") + "More text.\n", encoding="utf-8")
    ok(run("articles", "import", str(moved)))  # an article_conflicts row
    # an imported article deleted by an editor: an article_tombstones row
    ok(run("articles", "delete", "--yes", "notes-for-a-column-on-lighthouse-keepers"))
    people = DATA / "subscribers" / "people.csv"
    ok(run("subscribers", "import", str(people), "--list", "morning-briefing", "--confirmed"))
    ok(run("subscribers", "suppress", "gone@example.com"))
    ok(run("send", "digest", "--list", "morning-briefing", "--since", "2000-01-01", "--yes"))


def _events_accounts_and_jobs(database: Database, settings: config.Settings) -> None:
    with database.session() as session:
        delivery = session.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert delivery is not None
        found = {"campaign_id": delivery.campaign_id, "delivery_id": delivery.id}
        editor = create_editor(session, Passwords(), "Ed@Example.com", "a long passphrase 1")
        create_token(session, "cms-sync", ["articles:write"], created_by=editor.id)
        # An open admin session and an audit entry (their tables are copied too).
        open_session(session, editor.id, "a-session-id", utcnow(), timedelta(hours=12))
        record(session, Actor(editor.email, editor.id, "192.0.2.1"), "login", utcnow())
        create_editor(
            session, Passwords(), "boss@example.com", "another passphrase", EditorRole.ADMIN
        )
    items = [
        {"sg_event_id": "e1", "event": "open", "email": delivery.email, "timestamp": 1772000000}
        | found,
        {"sg_event_id": "e2", "event": "click", "email": delivery.email, "timestamp": 1772000100}
        | found,
    ]
    when = datetime(2026, 3, 2, tzinfo=UTC)
    store_events(database, sendgrid_events(items)[0], when)
    _welcome_clicks_and_unsubscribes(database, settings, delivery, when)
    _audience_rows(database, delivery, when)
    with database.engine.begin() as connection:  # twins as stored before 0011a, merged by it
        for email in ("twin@example.org", "Twin@Example.org"):
            twin = {"email": email, "name": "", "attributes": {}}
            connection.execute(insert(Subscriber).values(**twin, created_at=when, updated_at=when))
        assert renormalise(connection, when).merged == 1
    scheduler = SchedulerService(job_context(database, settings))  # fills apscheduler_jobs
    scheduler.start()
    assert scheduler.stop(10)


def _welcome_clicks_and_unsubscribes(
    database: Database, settings: config.Settings, delivery: Delivery, when: datetime
) -> None:
    """welcome_steps and welcome_sends (the series' first step to the people imported),
    campaign_links and link_clicks (a per-person tracked link clicked), unsubscribes."""
    from dispatch.campaigns.clicks import count_click, find_link
    from dispatch.campaigns.tracking import record_links
    from dispatch.campaigns.welcome import run_series
    from dispatch.store.types import utcnow
    from dispatch.subscribers import optin
    from dispatch.tokens import ClickClaim, ListClaim

    with database.session() as session:  # they confirmed by their own links: welcomed
        session.execute(update(Subscription).values(confirmed_via=None))
    assert run_series(database, settings, utcnow())
    lists = tuple(
        item.model_copy(update={"click_tracking": True, "click_tracking_per_person": True})
        for item in settings.lists
    )
    tracked = settings.model_copy(update={"lists": lists})
    assert delivery.subscriber_id is not None
    with database.session() as session:
        record_links(session, delivery.campaign_id, ["https://example.org/a"])
    with database.session() as session:
        claim = ClickClaim(delivery.campaign_id, 0, delivery.subscriber_id)
        link = find_link(session, claim)
        assert link is not None and link.url == "https://example.org/a"
        count_click(session, tracked, claim, link, when)
        key = session.get_one(Subscriber, delivery.subscriber_id).token_key
        leave = ListClaim(delivery.subscriber_id, "morning-briefing", key, delivery.campaign_id)
        assert optin.unsubscribe(session, leave, when) == "unsubscribed"


def _audience_rows(database: Database, delivery: Delivery, when: datetime) -> None:
    """subscriber_tags, segments, suppression_lifts, import_jobs, subscription_stamps: one
    row each."""
    from dispatch.store.models import (
        Campaign,
        ImportJob,
        Segment,
        SubscriberTag,
        SubscriptionStamp,
        SuppressionLift,
    )

    assert delivery.subscriber_id is not None
    with database.session() as session:
        list_id = session.get_one(Campaign, delivery.campaign_id).list_id
        session.add(SubscriberTag(subscriber_id=delivery.subscriber_id, tag="lisbon"))
        session.add(Segment(list_id=list_id, name="lisbon", expression='tag = "lisbon"'))
        session.add(
            SuppressionLift(
                email="lifted@example.com",
                previous_reason="bounce",
                reason="mailbox fixed",
                lifted_by="ed@example.com",
                lifted_at=when,
            )
        )
        session.add(ImportJob(list_slug="morning-briefing", filename="people.csv", status="done"))
        session.add(  # a confirmation time a later one overwrote (growth charts)
            SubscriptionStamp(
                subscriber_id=delivery.subscriber_id, list_id=list_id, kind="subscribed", at=when
            )
        )


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema; skipped (or failed, in CI) without PostgreSQL."""
    with postgresql_schema() as url:
        yield url


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in tables()
        }


def digests(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {table.name: table_digest(connection, table, 7)[1] for table in tables()}


def copy_with_cli(tmp_path: Path, source: str, target: str, *extra: str) -> Result:
    path = write_config(tmp_path, source)
    return runner(path)("db", "copy", "--to", target, *extra)


def test_copy_to_postgresql_keeps_every_row(
    tmp_path: Path, source: str, postgresql_url: str
) -> None:
    result = ok(copy_with_cli(tmp_path, source, postgresql_url, "--batch-size", "3"))
    assert "every table matches" in result.output
    assert "apscheduler_jobs (APScheduler's job store" in result.output
    from_engine, to_engine = make_engine(source), make_engine(postgresql_url)
    try:
        before = counts(from_engine)
        assert all(before.values()), f"the source store has an empty table: {before}"
        assert counts(to_engine) == before
        assert digests(to_engine) == digests(from_engine)
        with to_engine.begin() as connection:  # sequences reset: new ids follow the copied ones
            top = connection.scalar(select(func.max(Subscriber.id)))
            new = connection.execute(
                Subscriber.__table__.insert().returning(Subscriber.id),
                {"email": "new@example.com", "name": "", "attributes": {}, **_stamps()},
            ).scalar_one()
        assert new == (top or 0) + 1
    finally:
        from_engine.dispose()
        to_engine.dispose()


def test_copy_to_sqlite_then_refuses_a_non_empty_target(tmp_path: Path, source: str) -> None:
    target = f"sqlite:///{tmp_path / 'copy' / 'dispatch.db'}"
    result = ok(copy_with_cli(tmp_path, source, target))
    for table in tables():
        assert f"\n  {table.name}: " in result.output
    again = copy_with_cli(tmp_path, source, target)
    assert again.exit_code == 2
    assert "is not empty (table " in again.output and "db copy only fills an empty" in again.output


def test_verify_finds_a_changed_row(tmp_path: Path, source: str) -> None:
    target = f"sqlite:///{tmp_path / 'copy' / 'dispatch.db'}"
    ok(copy_with_cli(tmp_path, source, target))
    from_engine, to_engine = make_engine(source), make_engine(target)
    try:
        with to_engine.begin() as connection:
            connection.execute(update(Subscriber).values(name="Changed").where(Subscriber.id == 1))
        bad = [check.name for check in verify(from_engine, to_engine) if not check.ok]
    finally:
        from_engine.dispose()
        to_engine.dispose()
    assert bad == ["subscribers"]


def test_source_must_be_migrated(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = copy_with_cli(tmp_path, empty, f"sqlite:///{tmp_path / 'copy.db'}")
    assert result.exit_code == 2
    assert "revision none" in result.output and "dispatch db upgrade" in result.output


def _stamps() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"created_at": now, "updated_at": now}


def test_a_row_postgresql_refuses_leaves_the_target_empty(
    tmp_path: Path, postgresql_url: str
) -> None:
    """SQLite does not enforce VARCHAR lengths; PostgreSQL does: the copy stops, names the
    table and the batch, and writes nothing."""
    source = f"sqlite:///{tmp_path / 'loose.db'}"
    engine = make_engine(source)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            Suppression.__table__.insert(),
            [{"email": f"{n}@example.com", "reason": "x" * (40 + n), **_stamps()} for n in (1, 20)],
        )
    engine.dispose()
    result = copy_with_cli(tmp_path, source, postgresql_url)
    assert result.exit_code == 2
    assert "suppressions: the batch from {'email': '1@example.com'}" in result.output
    target = make_engine(postgresql_url)
    try:
        assert set(counts(target).values()) == {0}
    finally:
        target.dispose()
