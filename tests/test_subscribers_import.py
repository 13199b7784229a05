from __future__ import annotations

import csv
import multiprocessing
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import DATA
from dispatch.errors import CsvRowError, DispatchError, NotFound, StoreError
from dispatch.store.database import Database
from dispatch.store.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from dispatch.subscribers import Reject, import_subscribers
from dispatch.subscribers.csv_import import ImportSummary
from dispatch.subscribers.tags import tags_of

LIST = "morning-briefing"
BAD_ROWS = [
    (3, "expected 3 columns, found 2"),
    (4, '"not-an-address" is not a usable email address: An email address must have an @-sign.'),
    (5, "empty email address"),
    (6, "not valid UTF-8 (byte 0xe9)"),
    (7, "contains a NUL byte"),
    (10, "expected 3 columns, found 4"),
]


def copy(name: str, folder: Path) -> Path:
    return Path(shutil.copy(DATA / "subscribers" / name, folder / name))


def write(folder: Path, text: str, name: str = "in.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def people(db: Database, slug: str = LIST) -> dict[str, dict[str, Any]]:
    """Everyone subscribed to `slug`: name, attributes, status, confirmed or not."""
    query = (
        select(Subscriber, Subscription)
        .join(Subscription)
        .join(MailingList)
        .where(MailingList.slug == slug)
    )
    with db.session() as session:
        return {
            subscriber.email: {
                "name": subscriber.name,
                "attributes": subscriber.attributes,
                "status": subscription.status,
                "confirmed_at": subscription.confirmed_at,
            }
            for subscriber, subscription in session.execute(query)
        }


def counts(summary: ImportSummary) -> dict[str, int]:
    keys = ["rows", "created", "updated", "subscribed", "confirmed", "already"]
    keys += ["suppressed", "unsubscribed", "rejected"]
    return {key: getattr(summary, key) for key in keys if getattr(summary, key)}


def test_each_bad_row_is_rejected_with_its_line_and_the_rest_imported(
    db: Database, tmp_path: Path
) -> None:
    path = copy("bad-rows.csv", tmp_path)
    seen: list[Reject] = []
    summary = import_subscribers(db, path, LIST, on_reject=seen.append)
    assert [
        (r.line, r.reason[: len(reason)]) for r, (_, reason) in zip(seen, BAD_ROWS, strict=True)
    ] == BAD_ROWS
    assert counts(summary) == {"rows": 8, "created": 2, "subscribed": 2, "rejected": 6}
    assert people(db)["multi@example.com"]["name"] == "Multi Line"  # the newline removed
    assert set(people(db)) == {"ann@example.com", "multi@example.com"}

    assert summary.rejects_path == tmp_path / "bad-rows.rejects.csv"
    with summary.rejects_path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "email", "name", "city"]
    assert [
        (int(row[0]), row[1][: len(reason)])
        for row, (_, reason) in zip(rows[1:], BAD_ROWS, strict=True)
    ] == BAD_ROWS
    assert rows[1][2:] == ["bob@example.com", "Bob"]
    assert rows[6][2:] == ["last@example.com", "Last", "Derby", "extra"]
    # the row that was not UTF-8 is written back byte for byte
    assert "caf\xe9@example.com".encode("latin-1") in summary.rejects_path.read_bytes()


def test_rejects_go_where_asked_and_nowhere_when_clean(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "out" / "rejected.csv"
    summary = import_subscribers(db, copy("bad-rows.csv", tmp_path), LIST, rejects_path=target)
    assert summary.rejects_path == target and target.exists()
    clean = import_subscribers(db, copy("people.csv", tmp_path), LIST)
    assert clean.rejects_path is None
    assert not (tmp_path / "people.rejects.csv").exists()


def test_duplicates_merge_within_the_file(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("people.csv", tmp_path), LIST)
    assert counts(summary) == {"rows": 5, "created": 3, "subscribed": 3, "already": 2}
    found = people(db)
    assert set(found) == {"ann@example.com", "bob@example.org", "carol@example.net"}
    assert found["ann@example.com"]["name"] == "Ann Archer"  # a name is filled, never replaced
    assert found["ann@example.com"]["attributes"] == {"city": "Leeds", "plan": "supporter"}
    assert found["bob@example.org"]["name"] == "Bob Baker"
    assert found["bob@example.org"]["attributes"] == {"city": "Lyon", "plan": "free"}
    assert found["carol@example.net"]["name"] == 'Carol "CJ" Jones'


@pytest.mark.parametrize("batch_size", [1, 2, 5000])
def test_duplicates_merge_across_batches_and_imports(
    db: Database, tmp_path: Path, batch_size: int
) -> None:
    first = import_subscribers(db, copy("people.csv", tmp_path), LIST, batch_size=batch_size)
    # repeats of people this import created are merged, not counted as updates
    assert counts(first) == {"rows": 5, "created": 3, "subscribed": 3, "already": 2}
    assert people(db)["bob@example.org"]["name"] == "Bob Baker"
    later = write(
        tmp_path,
        "email,name,plan\nbob@EXAMPLE.ORG,Robert,patron\nnew@example.com,N,\nBOB@example.org,,\n",
    )
    second = import_subscribers(db, later, LIST, batch_size=batch_size)
    assert counts(second) == {"rows": 3, "created": 1, "updated": 1, "subscribed": 1, "already": 2}
    found = people(db)
    assert found["bob@example.org"]["name"] == "Bob Baker"
    assert found["bob@example.org"]["attributes"] == {"city": "Lyon", "plan": "patron"}
    # addresses are stored lower-case: BOB@ and bob@EXAMPLE.ORG are bob@example.org
    assert "BOB@example.org" not in found
    assert len(found) == 4


def test_reimport_is_idempotent(db: Database, tmp_path: Path) -> None:
    path = copy("people.csv", tmp_path)
    import_subscribers(db, path, LIST)
    before = people(db)
    again = import_subscribers(db, path, LIST)
    assert counts(again) == {"rows": 5, "already": 5}
    assert people(db) == before


def test_pending_by_default_confirmed_on_request_and_upgraded(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "email\nann@example.com\n")
    import_subscribers(db, path, LIST)
    assert people(db)["ann@example.com"]["status"] is SubscriptionStatus.PENDING
    assert people(db)["ann@example.com"]["confirmed_at"] is None
    path = write(tmp_path, "email\nann@example.com\nbob@example.com\n")
    summary = import_subscribers(db, path, LIST, confirmed=True)
    assert counts(summary) == {"rows": 2, "created": 1, "subscribed": 1, "confirmed": 1}
    for email in ("ann@example.com", "bob@example.com"):
        assert people(db)[email]["status"] is SubscriptionStatus.CONFIRMED
        assert people(db)[email]["confirmed_at"] is not None
    # a pending import never downgrades a confirmed subscription
    assert counts(import_subscribers(db, path, LIST)) == {"rows": 2, "already": 2}
    assert people(db)["ann@example.com"]["status"] is SubscriptionStatus.CONFIRMED


def test_suppressed_and_unsubscribed_are_never_resubscribed(db: Database, tmp_path: Path) -> None:
    import_subscribers(db, write(tmp_path, "email\ngone@example.com\n"), LIST)
    with db.session() as session:
        session.add(Suppression(email="bounced@example.com", reason="bounce"))
        session.add(Suppression(email="shout@example.com", reason="complaint"))  # as reported
        session.execute(
            Subscription.__table__.update().values(status=SubscriptionStatus.UNSUBSCRIBED)
        )
    path = write(
        tmp_path,
        "email,name\nbounced@example.com,B\ngone@Example.com,G\nshout@EXAMPLE.com,S\n"
        "gone@example.com,G\nfresh@example.com,F\n",
    )
    for confirmed in (False, True):
        summary = import_subscribers(db, path, LIST, confirmed=confirmed)
        assert (summary.suppressed, summary.unsubscribed, summary.rows) == (2, 2, 5)
    found = people(db)
    assert found["gone@example.com"]["status"] is SubscriptionStatus.UNSUBSCRIBED
    assert set(found) == {"gone@example.com", "fresh@example.com"}
    with db.session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert "bounced@example.com" not in emails


def test_an_unsubscribed_status_column_is_honoured(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "email,status\na@example.com,unsubscribed\nb@example.com,confirmed\n")
    summary = import_subscribers(db, path, LIST)
    assert (summary.unsubscribed, summary.subscribed) == (1, 1)
    assert set(people(db)) == {"b@example.com"}
    bad = import_subscribers(db, write(tmp_path, "email,status\nc@example.com,maybe\n"), LIST)
    assert bad.rejected == 1


def test_excel_bom_and_crlf(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("excel-bom-crlf.csv", tmp_path), LIST)
    assert counts(summary) == {"rows": 2, "created": 2, "subscribed": 2}
    assert people(db)["dee@example.com"]["name"] == "Dee, Dawn"
    assert people(db)["dee@example.com"]["attributes"] == {"city": "Oslo"}


def test_header_errors_stop_before_anything_is_stored(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "mail,name\nann@example.com,Ann\n")
    with pytest.raises(CsvRowError, match=r'in.csv:1: bad header: no "email" column'):
        import_subscribers(db, path, LIST)
    assert people(db) == {}


def test_unknown_list_is_not_found(db: Database, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no list"):
        import_subscribers(db, write(tmp_path, "email\na@example.com\n"), "nope")


def test_a_failing_batch_leaves_earlier_batches_committed(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.subscribers import csv_import

    lines = "".join(f"p{i}@example.com\n" for i in range(5))
    path = write(tmp_path, "email\n" + lines)
    real = csv_import.merge_batch
    calls = []

    def flaky(connection, list_id, rows, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        real(connection, list_id, rows, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(csv_import, "merge_batch", flaky)
    with pytest.raises(RuntimeError):
        import_subscribers(db, path, LIST, batch_size=2)
    assert set(people(db)) == {"p0@example.com", "p1@example.com"}
    monkeypatch.setattr(csv_import, "merge_batch", real)
    rerun = import_subscribers(db, path, LIST, batch_size=2)
    assert (rerun.already, rerun.subscribed) == (2, 3)


def test_a_reader_process_gives_the_same_result(db: Database, tmp_path: Path) -> None:
    from dispatch.subscribers import checking

    rows = [f"w{i}@example.com,W {i}" if i % 7 else f"bad {i},X" for i in range(50)]
    path = write(tmp_path, "email,name\n" + "\n".join(rows) + "\n")
    seen: list[Reject] = []
    progress: list[int] = []
    summary = import_subscribers(
        db,
        path,
        LIST,
        read_ahead=True,
        batch_size=6,
        on_reject=seen.append,
        on_progress=lambda done, total: progress.append(done),
    )
    assert checking.CHUNK >= 50  # one chunk from the reader, several batches here
    assert [r.line for r in seen] == [i + 2 for i in range(50) if i % 7 == 0]
    assert (summary.subscribed, summary.rejected) == (42, 8)
    assert progress[-1] == path.stat().st_size
    assert people(db)["w13@example.com"]["name"] == "W 13"


def readers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "dispatch-import-reader"]


def test_a_reader_process_killed_mid_file_stops_the_import_and_a_rerun_finishes_it(
    db: Database, tmp_path: Path
) -> None:
    """SIGKILL to the reader after the first batch: a clear error, the batch written
    before it kept, no process left behind; running the import again finishes the file."""
    from dispatch.subscribers import checking

    count = checking.CHUNK * 3
    path = write(tmp_path, "email\n" + "".join(f"k{i}@example.com\n" for i in range(count)))
    killed: list[int] = []

    def kill_reader(done: int, total: int) -> None:
        if not killed:
            (reader,) = readers()
            assert reader.pid is not None
            os.kill(reader.pid, signal.SIGKILL)
            killed.append(reader.pid)

    with pytest.raises(DispatchError, match=r"reader process stopped \(exit code -9\)") as caught:
        import_subscribers(
            db, path, LIST, read_ahead=True, batch_size=1000, on_progress=kill_reader
        )
    assert "run the import again" in str(caught.value)
    assert readers() == []
    kept = len(people(db))
    assert 1000 <= kept < count
    rerun = import_subscribers(db, path, LIST, read_ahead=True)
    assert (rerun.already, rerun.subscribed) == (kept, count - kept)
    assert len(people(db)) == count


def test_a_reader_process_reports_a_bad_header_and_stops_with_a_store_fault(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.subscribers import csv_import

    bad = write(tmp_path, "mail,name\nann@example.com,Ann\n", "bad.csv")
    with pytest.raises(CsvRowError, match=r'bad.csv:1: bad header: no "email" column'):
        import_subscribers(db, bad, LIST, read_ahead=True)
    assert readers() == []

    def locked(*args: Any, **kwargs: Any) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(csv_import, "merge_batch", locked)
    path = write(tmp_path, "email\n" + "".join(f"s{i}@example.com\n" for i in range(12000)))
    with pytest.raises(StoreError, match="locked"):
        import_subscribers(db, path, LIST, read_ahead=True)
    assert readers() == []  # the reader, blocked on its full queue, was stopped
    assert people(db) == {}


def test_without_a_main_module_file_the_rows_are_read_in_process(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python - < script.py`: "spawn" could not start a reader there, so none is tried."""
    where = str(tmp_path / "<stdin>")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", where, raising=False)
    seen: list[str] = []
    path = write(tmp_path, "email\nin@example.com\n")

    def progress(done: int, total: int) -> None:
        seen.extend(str(reader) for reader in readers())

    summary = import_subscribers(db, path, LIST, read_ahead=True, on_progress=progress)
    assert (summary.subscribed, seen) == (1, [])


def test_odd_characters_survive_the_bulk_writes(db: Database, tmp_path: Path) -> None:
    """What COPY's text format escapes (tab, newline, backslash, `\\N`) and non-ASCII, in
    names, attributes and tags, stored exactly (PostgreSQL takes new rows by COPY)."""
    with (tmp_path / "in.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "note", "tags"])
        writer.writerow(
            [
                "odd@example.com",
                'Tab\there back\\slash \\N "quoted" ünï 😀',
                "line one\nline two\\N\ttab",
                "\\n;ćafé",
            ]
        )
    summary = import_subscribers(db, tmp_path / "in.csv", LIST)
    assert summary.subscribed == 1
    person = people(db)["odd@example.com"]
    assert person["name"] == 'Tab here back\\slash \\N "quoted" ünï 😀'
    assert person["attributes"] == {"note": "line one\nline two\\N\ttab"}
    with db.session() as session:
        (subscriber_id,) = session.scalars(select(Subscriber.id)).all()
        assert tags_of(session, subscriber_id) == ["\\n", "ćafé"]


def test_a_store_locked_or_cut_mid_import_is_waited_out_and_loses_nothing(
    tmp_path: Path, database_url: str
) -> None:
    """After the first batch, the store goes away for 2 s (SQLite: another connection
    holds the write lock, busy_timeout 300 ms; PostgreSQL: the server terminates the
    import's connections again and again). The import waits, writes the batch again
    and finishes: every row once, the counts exact."""
    from support.store_faults import Outage, fault_site, outage

    settings, store = fault_site(tmp_path, database_url, "im")
    outages: list[Outage] = []

    def strike(done: int, total: int) -> None:
        if not outages:
            outages.append(outage(settings))

    count = 5000
    rows = write(tmp_path, "email\n" + "".join(f"w{i}@example.com\n" for i in range(count)))
    try:
        summary = import_subscribers(store, rows, LIST, batch_size=1000, on_progress=strike)
        outages[0].span()
        assert (summary.rows, summary.created, summary.subscribed) == (count, count, count)
        assert len(people(store)) == count
    finally:
        store.dispose()
