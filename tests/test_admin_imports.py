"""Admin uploads imported in the background (a job row and a page that follows it), and
the "send confirmation to pending" button."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from conftest import DATA
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import ImportJob, Subscription
from dispatch.store.types import utcnow
from dispatch.subscribers.membership import add_subscriber, suppress_address
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from test_admin_subscribers import finished

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-imports-secret")


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def outbox(settings: Settings) -> list[Path]:
    return sorted((settings.delivery.outbox.dir / "0").glob("*.eml"))


def test_a_mailchimp_export_uploaded_in_the_admin(admin: Admin, db: Database) -> None:
    body = (DATA / "imports" / "mailchimp_subscribed.csv").read_bytes()
    started = admin.post(
        f"/admin/lists/{LIST}/import", files={"file": ("audience.csv", body, "text/csv")}
    )
    page = finished(admin, started.headers["location"])
    assert "read as a mailchimp export (utf-8, comma)" in page
    assert "Subscribed: 3" in page and "audience.csv:5: " in page
    with db.session() as session:
        job = session.get(ImportJob, int(started.headers["location"].rsplit("/", 1)[1]))
        assert job is not None and job.status == "done" and job.bytes_done == len(body)
        assert job.created_by is not None
    bad = admin.post(
        f"/admin/lists/{LIST}/import",
        {"source": "tinyletter"},
        files={"file": ("a.csv", body, "text/csv")},
    )
    assert bad.status_code == 400 and "unknown source" in bad.text


def test_the_page_follows_a_running_job_and_tells_a_stopped_one(admin: Admin, db: Database) -> None:
    with db.session() as session:
        job = ImportJob(
            list_slug=LIST, filename="big.csv", status="running", bytes_total=1000,
            bytes_done=250, rows=5000, created_at=utcnow(), updated_at=utcnow(),
        )  # fmt: skip
        session.add(job)
        session.flush()
        job_id = job.id
    page = admin.get(f"/admin/imports/{job_id}").text
    assert '<meta http-equiv="refresh" content="2">' in page and "<script" not in page
    assert 'value="25"' in page and "5,000 rows read" in page and "Importing" in page
    with db.session() as session:
        old = utcnow() - timedelta(minutes=11)
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(updated_at=old))
    stopped = admin.get(f"/admin/imports/{job_id}").text
    assert "http-equiv" not in stopped and "stopped without finishing" in stopped
    assert admin.get("/admin/imports/999").status_code == 404


def test_send_confirmation_to_pending_once_each(
    admin: Admin, db: Database, settings: Settings
) -> None:
    with db.session() as session:
        for email in ("p1@example.com", "p2@example.com", "gone@example.com", "ok@example.com"):
            add_subscriber(session, LIST, email, confirmed=email.startswith("ok"))
        suppress_address(session, "gone@example.com", "bounce")
        session.execute(  # p2 already got one
            update(Subscription)
            .where(Subscription.subscriber_id.in_([2]))
            .values(confirmation_sent_at=utcnow() - timedelta(days=3))
        )
    page = admin.get(f"/admin/lists/{LIST}").text
    assert "Send confirmation to pending" in page
    for _ in range(2):  # pressed twice: nobody gets two
        pressed = admin.post(f"/admin/lists/{LIST}/confirm-pending")
        assert pressed.status_code == 303 and "confirmations-started" in pressed.headers["location"]
        deadline = time.monotonic() + 10
        while len(outbox(settings)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(outbox(settings)) == 1
    assert "p1@example.com" in outbox(settings)[0].read_text()


def test_an_import_cancelled_in_the_admin_stops_after_its_batch_and_keeps_what_it_wrote(
    admin: Admin, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 2,000, each held 0.3 s; the editor presses Cancel while it runs: the job
    ends "cancelled" with fewer rows than the file, the page says so and offers no more
    button, and uploading the same file again imports the rest."""
    from dispatch.subscribers import csv_import

    real = csv_import.merge_batch

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "merge_batch", slow)
    body = ("email\n" + "".join(f"c{i}@example.com\n" for i in range(5000))).encode()
    started = admin.post(f"/admin/lists/{LIST}/import", files={"file": ("c.csv", body, "text/csv")})
    location = started.headers["location"]
    job_id = int(location.rsplit("/", 1)[1])
    for _ in range(200):  # until the first batch is in
        with db.session() as session:
            job = session.get_one(ImportJob, job_id)
            if job.rows:
                break
        time.sleep(0.02)
    page = admin.get(location).text
    assert "Cancel the import" in page
    assert admin.post(f"{location}/cancel").status_code == 303
    done = finished(admin, location)
    assert "Cancelled after" in done and "Cancel the import" not in done
    with db.session() as session:
        job = session.get_one(ImportJob, job_id)
        assert job.status == "cancelled" and 0 < job.rows < 5000
        kept = session.scalar(select(func.count()).select_from(Subscription))
    assert kept == job.summary["subscribed"] and kept < 5000
    assert admin.post(f"{location}/cancel").status_code == 303  # an ended job: nothing
    monkeypatch.setattr(csv_import, "merge_batch", real)
    again = admin.post(f"/admin/lists/{LIST}/import", files={"file": ("c.csv", body, "text/csv")})
    assert "Subscribed: " + f"{5000 - kept:,}" in finished(admin, again.headers["location"])
