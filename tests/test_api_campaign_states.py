"""Campaign actions in every state answer as documented, never 500: sending a paused or
cancelled campaign is a 409 that says what to do instead (schemathesis found the 500)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dispatch.campaigns import control
from dispatch.campaigns.create import create_note
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.api import SECRET, bearer, token
from support.campaigns import add_subscribers

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def started(db: Database, settings: Settings, then: str) -> int:
    """A note campaign started (recipients frozen) and then paused or cancelled, in the store."""
    add_subscribers(db, LIST, 3)
    with db.session() as session:
        created = create_note(session, settings, LIST, "S", "B", utcnow())
        start_campaign(session, created.campaign, settings, utcnow())
        campaign_id = created.campaign.id
    with db.session() as session:
        if then == "pause":
            control.pause(session, campaign_id)
        else:
            control.cancel(session, campaign_id, utcnow())
    return campaign_id


@pytest.mark.parametrize("then", ["pause", "cancel"])
def test_send_on_a_paused_or_cancelled_campaign_is_a_conflict(
    settings: Settings, db: Database, then: str
) -> None:
    campaign = started(db, settings, then)
    headers = bearer(token(db, "ops", "admin"))
    with TestClient(create_app(settings, db), headers=headers) as client:
        again = client.post(f"/api/campaigns/{campaign}/send")
        assert again.status_code == 409, again.text
        message = again.json()["error"]["message"]
        word = "paused" if then == "pause" else "cancelled"
        assert word in message
        if then == "pause":
            assert "resume" in message
        assert client.get(f"/api/campaigns/{campaign}").json()["status"] == word
