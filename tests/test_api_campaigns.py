"""/api/campaigns: drafts of each kind, preview, test send, send now (202, then the
runner's progress), schedule, pause, resume, cancel, list; 404/409/422 cases."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import Campaign
from support.api import SECRET, api_client
from support.campaigns import add_subscribers


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with api_client(settings, db) as test_client:
        for title in ("World news today", "Tech news today"):
            section = "world" if title.startswith("World") else "technology"
            made = test_client.post(
                "/api/articles", json={"title": title, "body_markdown": "Body.", "section": section}
            )
            assert made.status_code == 201, made.text
        yield test_client


def create(client: TestClient, **payload: object) -> dict:
    response = client.post("/api/campaigns", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def finish(client: TestClient, campaign_id: int) -> dict:
    """Wait for the background run, then the campaign's status from the API."""
    client.app.state.sending.inline.drain(30)  # type: ignore[attr-defined]
    return client.get(f"/api/campaigns/{campaign_id}").json()


def test_drafts_of_each_kind(client: TestClient) -> None:
    digest = create(client, kind="digest", list="morning-briefing")
    assert digest["kind"] == "digest" and digest["status"] == "draft"
    assert len(digest["article_ids"]) == 2 and digest["list"] == "morning-briefing"
    article = create(client, kind="article", list="weekly-review", article="tech-news-today")
    assert article["kind"] == "article" and article["subject"] == "Tech news today"
    note = create(
        client, kind="note", list="weekly-review", subject="  Hello   all ", body_markdown="*Hi*"
    )
    assert note["kind"] == "note" and note["subject"] == "Hello all"
    assert note["warnings"] == []


def test_create_errors(client: TestClient) -> None:
    cases = [
        ({"kind": "digest", "list": "weekly-review"}, 409, "body.since"),  # nothing in culture
        ({"kind": "digest", "list": "nope"}, 404, "body.list"),
        ({"kind": "article", "list": "weekly-review", "article": "nope"}, 404, "body.article"),
        (
            {"kind": "note", "list": "weekly-review", "subject": " ", "body_markdown": "x"},
            422,
            "body.note.subject",
        ),
        ({"kind": "poem", "list": "weekly-review"}, 422, "body"),
        (
            {"kind": "digest", "list": "morning-briefing", "since": "2026-01-01T00:00"},
            422,
            "body.digest.since",
        ),
    ]
    for payload, status, field in cases:
        response = client.post("/api/campaigns", json=payload)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["error"]["field"] == field, (payload, response.json())


def test_preview_for_a_sample_recipient(client: TestClient) -> None:
    note = create(
        client, kind="note", list="weekly-review", subject="Preview me", body_markdown="**Bold**"
    )
    preview = client.get(f"/api/campaigns/{note['id']}/preview")
    assert preview.status_code == 200
    body = preview.json()
    assert body["subject"] == "Preview me" and body["recipient"] == "sam@example.com"
    assert "<strong>Bold</strong>" in body["html"] and "Bold" in body["text"]
    assert "/unsubscribe/" in body["html"]
    assert client.get("/api/campaigns/999/preview").status_code == 404


def test_test_send_goes_to_one_address(client: TestClient, settings: Settings) -> None:
    article = create(client, kind="article", list="morning-briefing", article="world-news-today")
    sent = client.post(f"/api/campaigns/{article['id']}/test", json={"to": "me@example.org"})
    assert sent.status_code == 202, sent.text
    accepted = sent.json()
    assert accepted["id"] != article["id"] and accepted["recipients"] == 1
    assert accepted["status_url"].endswith(f"/api/campaigns/{accepted['id']}")
    status = finish(client, accepted["id"])
    assert status["status"] == "sent" and status["test_to"] == "me@example.org"
    assert status["progress"]["sent"] == 1 and status["progress"]["percent"] == 100.0
    (message,) = (settings.delivery.outbox.dir / str(accepted["id"])).glob("*.eml")
    parsed = email.message_from_bytes(message.read_bytes())
    assert parsed["To"] == "me@example.org" and parsed["Subject"] == "[TEST] World news today"
    assert client.get(f"/api/campaigns/{article['id']}").json()["status"] == "draft"
    bad = client.post(f"/api/campaigns/{article['id']}/test", json={"to": "nobody"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "body.to"


def test_send_now_runs_in_the_background_to_the_end(
    client: TestClient, db: Database, settings: Settings
) -> None:
    add_subscribers(db, "morning-briefing", 30)
    digest = create(client, kind="digest", list="morning-briefing")
    started = client.post(f"/api/campaigns/{digest['id']}/send")
    assert started.status_code == 202
    assert started.json()["recipients"] == 30 and started.json()["status"] == "sending"
    status = finish(client, digest["id"])
    assert status["status"] == "sent"
    progress = status["progress"]
    assert (progress["total"], progress["sent"], progress["done"], progress["percent"]) == (
        30,
        30,
        30,
        100.0,
    )
    assert len(list((settings.delivery.outbox.dir / str(digest["id"])).glob("*.eml"))) == 30
    again = client.post(f"/api/campaigns/{digest['id']}/send")  # idempotent, not an error
    assert again.status_code == 202 and again.json()["status"] == "sent"
    for action in ("pause", "resume", "cancel"):
        response = client.post(f"/api/campaigns/{digest['id']}/{action}")
        assert response.status_code == 409, (action, response.text)
        assert "sent" in response.json()["error"]["message"]


def test_pause_resume_cancel(client: TestClient, db: Database, settings: Settings) -> None:
    add_subscribers(db, "morning-briefing", 5)
    note = create(client, kind="note", list="morning-briefing", subject="S", body_markdown="B")
    with db.session() as session:  # started elsewhere (the CLI), not yet run
        start_campaign(session, session.get_one(Campaign, note["id"]), settings, datetime.now(UTC))
    paused = client.post(f"/api/campaigns/{note['id']}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert client.post(f"/api/campaigns/{note['id']}/pause").status_code == 200  # still paused
    refused = client.post(f"/api/campaigns/{note['id']}/send")  # paused: resume, not send
    assert refused.status_code == 409 and "resume" in refused.json()["error"]["message"]
    resumed = client.post(f"/api/campaigns/{note['id']}/resume")
    assert resumed.status_code == 202 and resumed.json()["recipients"] == 5
    assert finish(client, note["id"])["progress"]["sent"] == 5
    draft = create(client, kind="note", list="morning-briefing", subject="T", body_markdown="B")
    assert client.post(f"/api/campaigns/{draft['id']}/resume").status_code == 409
    cancelled = client.post(f"/api/campaigns/{draft['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["campaign"]["status"] == "cancelled"
    assert cancelled.json()["skipped"] == 0
    assert client.post(f"/api/campaigns/{draft['id']}/send").status_code == 409


def test_schedule_and_reschedule(client: TestClient) -> None:
    note = create(client, kind="note", list="weekly-review", subject="Later", body_markdown="B")
    url = f"/api/campaigns/{note['id']}/schedule"
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    scheduled = client.post(url, json={"at": at.isoformat()})
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled.json()["scheduled_at"]) == at
    later = at + timedelta(hours=2)
    moved = client.post(url, json={"at": later.isoformat()}).json()
    assert datetime.fromisoformat(moved["scheduled_at"]) == later
    past = client.post(url, json={"at": "2001-01-01T00:00:00+00:00"})
    assert past.status_code == 422 and past.json()["error"]["field"] == "body.at"
    naive = client.post(url, json={"at": "2099-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "body.at"
    beyond = client.post(url, json={"at": "9999-12-31T23:59:59-05:00"})  # year 10000 in UTC
    assert beyond.status_code == 422 and beyond.json()["error"]["field"] == "body.at"
    assert "out of range" in beyond.json()["error"]["message"]
    kept = client.get(f"/api/campaigns/{note['id']}").json()["scheduled_at"]
    assert datetime.fromisoformat(kept) == later  # the refused time changed nothing
    client.post(f"/api/campaigns/{note['id']}/cancel")
    assert client.post(url, json={"at": later.isoformat()}).status_code == 409


def test_status_list_and_404s(client: TestClient) -> None:
    ids = [
        create(client, kind="note", list=lst, subject=f"N{n}", body_markdown="B")["id"]
        for n, lst in enumerate(["weekly-review", "morning-briefing", "weekly-review"])
    ]
    client.post(f"/api/campaigns/{ids[0]}/cancel")
    listed = client.get("/api/campaigns", params={"per_page": 2}).json()
    assert listed["total"] == 3 and [c["id"] for c in listed["items"]] == ids[::-1][:2]
    assert client.get(listed["next"]).json()["items"][0]["id"] == ids[0]
    weekly = client.get("/api/campaigns", params={"list": "weekly-review"}).json()
    assert {c["id"] for c in weekly["items"]} == {ids[0], ids[2]}
    drafts = client.get("/api/campaigns", params={"status": "draft"}).json()
    assert {c["id"] for c in drafts["items"]} == {ids[1], ids[2]}
    detail = client.get(f"/api/campaigns/{ids[1]}").json()
    assert detail["progress"]["total"] == 0 and detail["progress"]["running"] is False
    for method, path in [
        ("get", "/api/campaigns/4242"),
        ("post", "/api/campaigns/4242/send"),
        ("post", "/api/campaigns/4242/pause"),
        ("post", "/api/campaigns/4242/resume"),
        ("post", "/api/campaigns/4242/cancel"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["error"]["message"] == "no campaign 4242"
    assert client.get("/api/campaigns/0").status_code == 422
    assert client.get("/api/campaigns/99999999999").status_code == 422
