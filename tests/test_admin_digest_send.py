""" "Send now" on the digest previews page: a confirmation step, CSRF, the one start path,
and one campaign per confirmation however often (or however concurrently) it is sent."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignKind, Delivery
from dispatch.store.types import utcnow
from dispatch.web.admin.digest_send import confirm_digest
from support.admin import EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"
SEND = f"/admin/campaigns/digests/{LIST}/send"
KEY = re.compile(r'name="key" value="([0-9a-f]{32})"')


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "digest-send-secret")


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    add_subscribers(db, LIST, 4)
    add_article(db, "harbour-vote", title="Harbour vote — Überraschung")
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, EDITOR)


def digests(db: Database) -> list[Campaign]:
    with db.session() as session:
        found = list(session.scalars(select(Campaign).where(Campaign.kind == CampaignKind.DIGEST)))
        session.expunge_all()
        return found


def test_send_now_asks_first_then_sends_once_however_often_confirmed(
    admin: Admin, db: Database
) -> None:
    previews = admin.get("/admin/campaigns/digests")
    assert f'action="{SEND}"' in previews.text
    asked = admin.post(SEND)
    assert asked.status_code == 200 and "Harbour vote — Überraschung" in asked.text
    assert "goes to 4 confirmed" in asked.text and digests(db) == []  # nothing made yet
    found = KEY.search(asked.text)
    assert found
    form = {"confirmed": "1", "key": found.group(1)}
    first = admin.post(SEND, form)
    assert first.status_code == 303 and first.headers["location"].endswith("notice=started")
    again = admin.post(SEND, form)  # the double click
    assert again.status_code == 303 and "notice=already-sending" in again.headers["location"]
    assert first.headers["location"].split("?")[0] == again.headers["location"].split("?")[0]
    (campaign,) = digests(db)
    assert campaign.period_key == f"admin-digest:{LIST}:{found.group(1)}"
    with db.session() as session:
        rows = session.scalar(select(func.count()).where(Delivery.campaign_id == campaign.id))
    assert rows == 4  # frozen by the start path
    # Nothing new now: a fresh confirmation says so and sends nothing.
    fresh = KEY.search(admin.post(SEND).text)
    assert fresh is None
    late = admin.post(SEND, {"confirmed": "1", "key": "0" * 32})
    assert late.status_code == 400 and "nothing new" in late.text
    assert len(digests(db)) == 1


def test_send_now_refuses_forged_forms(admin: Admin, db: Database) -> None:
    bad = admin.post(SEND, {"confirmed": "1", "key": "'; DROP TABLE campaigns; --"})
    assert bad.status_code == 400 and "not valid" in bad.text
    no_csrf = admin.client.post(SEND, data={"confirmed": "1", "key": "a" * 32})
    assert no_csrf.status_code == 403
    unknown = admin.post("/admin/campaigns/digests/nope/send")
    assert unknown.status_code == 404
    assert digests(db) == []


def test_two_confirmations_at_once_make_one_campaign(
    admin: Admin, db: Database, settings: Settings
) -> None:
    period, results, errors = f"admin-digest:{LIST}:{'b' * 32}", [], []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        try:
            barrier.wait()
            results.append(confirm_digest(db, settings, LIST, period, utcnow()))
        except Exception as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(results) == 2, (results, errors)
    made = [r for r in results if r[1]]
    assert len(digests(db)) == 1 and len(made) == 1, (results, errors)
    assert all(r[0] == made[0][0] for r in results)
