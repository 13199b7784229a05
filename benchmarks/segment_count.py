"""Segment counts over 1,000,000 subscribers, beside the plain count of the list.

    python benchmarks/segment_count.py [--people N] [--pg URL] [--no-sqlite]

Builds N subscribers of one list in SQL (generate_series on PostgreSQL, a recursive CTE
on SQLite): a city, plan and birthday attribute each, tags (lisbon 1/4, porto 1/4,
weekly 1/2, vip 1/50), a bounce event for 1/100, a suppression for 1/200, joined over
the past year. Then times, best of three, `count_audience` (what the admin, API and CLI
show before sending) for several segments, next to the reference
`SELECT count(*) FROM subscriptions WHERE list_id = ? AND status = 'confirmed'`.
PostgreSQL runs in a schema of its own, dropped at the end (URL: --pg, else
$DISPATCH_TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from dispatch import config
from dispatch.campaigns.recipients import count_audience
from dispatch.lists import get_list, sync_lists
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.types import utcnow

LIST = "morning-briefing"
SEGMENTS = [
    'tag = "lisbon"',
    'tag in ("lisbon", "porto") and not tag = "vip"',
    'attr.city = "Lisbon" and attr.plan contains "pro"',
    "subscribed after 30 days ago and bounced never",
    'tag in ("lisbon", "porto") and not tag = "vip" and attr.city = "Lisbon" '
    'and attr.plan contains "pro" and attr.birthday before 2000-01-01 '
    "and subscribed after 2025-12-01 and bounced never and opened never",
]

SQLITE_PEOPLE = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :people)
INSERT INTO subscribers (id, email, name, attributes, created_at, updated_at, token_key)
SELECT i, 'reader' || i || '@example.com', '',
  '{"city": "' || (CASE i % 4 WHEN 0 THEN 'Lisbon' WHEN 1 THEN 'Porto' WHEN 2 THEN 'Leeds'
   ELSE 'Faro' END) || '", "plan": "' || (CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END)
   || '", "birthday": "19' || (50 + i % 50) || '-0' || (1 + i % 9) || '-15"}',
  :stamp, :stamp, 'key' || i FROM n
"""
PG_PEOPLE = """
INSERT INTO subscribers (id, email, name, attributes, created_at, updated_at, token_key)
SELECT i, 'reader' || i || '@example.com', '',
  jsonb_build_object('city', (ARRAY['Lisbon', 'Porto', 'Leeds', 'Faro'])[1 + i % 4],
   'plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END,
   'birthday', '19' || (50 + i % 50) || '-0' || (1 + i % 9) || '-15'),
  :now, :now, 'key' || i FROM generate_series(1, :people) AS i
"""
SQLITE_JOINED = "strftime('%Y-%m-%d %H:%M:%f', :stamp, '-' || (id % 365) || ' days')"
PG_JOINED = "CAST(:now AS timestamptz) - (id % 365) * interval '1 day'"
REST = [
    "INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, "
    "confirmed_at) SELECT id, :list, 'confirmed', {joined}, {joined}, {joined} FROM subscribers",
    "INSERT INTO subscriber_tags (subscriber_id, tag) SELECT id, 'lisbon' FROM subscribers "
    "WHERE id % 4 = 0 UNION ALL SELECT id, 'porto' FROM subscribers WHERE id % 4 = 1 "
    "UNION ALL SELECT id, 'weekly' FROM subscribers WHERE id % 2 = 0 "
    "UNION ALL SELECT id, 'vip' FROM subscribers WHERE id % 50 = 0",
    "INSERT INTO events (provider, provider_event_id, type, email, subscriber_id, payload, "
    "created_at) SELECT 'bench', 'b' || id, 'bounced', email, id, '{{}}', {joined} "
    "FROM subscribers WHERE id % 100 = 0",
    "INSERT INTO suppressions (email, reason, created_at) SELECT email, 'bounce', {joined} "
    "FROM subscribers WHERE id % 200 = 0",
]
REFERENCE = "SELECT count(*) FROM subscriptions WHERE list_id = :list AND status = 'confirmed'"


def settings_for(folder: Path, url: str) -> config.Settings:
    os.environ.setdefault("DISPATCH_SECRET_KEY", "benchmark-secret")
    body = re.sub(
        r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{url}"', default_config_text()
    )
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return config.load(path)


def build(db: Database, settings: config.Settings, people: int) -> int:
    postgres = db.engine.dialect.name == "postgresql"
    now = utcnow()
    values = {"people": people, "now": now, "stamp": now.replace(tzinfo=None).isoformat(" ")}
    started = time.perf_counter()
    with db.session() as session:
        sync_lists(session, settings)
        list_id = get_list(session, LIST).id
        session.execute(text(PG_PEOPLE if postgres else SQLITE_PEOPLE), values)
        for statement in REST:
            joined = PG_JOINED if postgres else SQLITE_JOINED
            session.execute(text(statement.format(joined=joined)), values | {"list": list_id})
        if postgres:
            session.execute(text("SELECT setval('subscribers_id_seq', :people)"), values)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE" if postgres else "ANALYZE")
        )
    print(f"  built {people:,} subscribers in {time.perf_counter() - started:.1f} s")
    return list_id


def best_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def explain(session: Session, list_id: int, expression: str) -> None:
    """EXPLAIN ANALYZE of one segment count (PostgreSQL), values inlined for reading."""
    from sqlalchemy import func, select

    from dispatch.campaigns.recipients import audience, segment_condition

    where = segment_condition(session, expression, utcnow())
    query = select(func.count()).select_from(audience(list_id, where).subquery())
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    for (line,) in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")):
        print("    " + line)


def measure(db: Database, list_id: int, show_plan: bool = False) -> None:
    now = utcnow()
    with Session(db.engine) as session:
        if show_plan and db.engine.dialect.name == "postgresql":
            explain(session, list_id, SEGMENTS[-1])
        reference = best_of(3, lambda: int(session.scalar(text(REFERENCE), {"list": list_id})))
        print(f"  {reference[0] * 1000:8.1f} ms  {reference[1]:>9,}  reference: {REFERENCE}")
        whole = best_of(3, lambda: count_audience(session, list_id, None, now))
        print(f"  {whole[0] * 1000:8.1f} ms  {whole[1]:>9,}  the whole list (minus suppressed)")
        for expression in SEGMENTS:
            took = best_of(3, lambda e=expression: count_audience(session, list_id, e, now))
            print(f"  {took[0] * 1000:8.1f} ms  {took[1]:>9,}  {expression}")


def run_sqlite(people: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'var' / 'dispatch.db'}"
        settings = settings_for(Path(folder), url)
        db = Database(settings.database)
        migrate.upgrade(db.engine)
        print(f"SQLite ({people:,} subscribers)")
        measure(db, build(db, settings, people))
        db.dispose()


def run_postgresql(base_url: str, people: int, show_plan: bool = False) -> None:
    schema = f"bench_segments_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        with tempfile.TemporaryDirectory() as folder:
            settings = settings_for(Path(folder), url.render_as_string(hide_password=False))
            db = Database(settings.database)
            migrate.upgrade(db.engine)
            print(f"PostgreSQL ({people:,} subscribers)")
            measure(db, build(db, settings, people), show_plan)
            db.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("DISPATCH_TEST_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--explain", action="store_true", help="PostgreSQL's plan of the last")
    args = parser.parse_args()
    if args.pg:
        run_postgresql(args.pg, args.people, args.explain)
    else:
        print("PostgreSQL skipped: no --pg URL and no $DISPATCH_TEST_DATABASE_URL")
    if not args.no_sqlite:
        run_sqlite(args.people)
    return 0


if __name__ == "__main__":
    sys.exit(main())
