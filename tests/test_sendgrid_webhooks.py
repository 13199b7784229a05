"""POST /webhooks/sendgrid end to end: real ECDSA keys, real signatures, a real database."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from conftest import write_config
from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.events import event_counts
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Event,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from dispatch.web import create_app

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
URL = "/webhooks/sendgrid"

Key = ec.EllipticCurvePrivateKey


def public_key_text(key: Key) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def config_path(tmp_path: Path, database_url: str, key: Key) -> Path:
    line = f'webhook_public_key = "{public_key_text(key)}"'
    return write_config(tmp_path, database_url, {r"^# webhook_public_key = .*$": line})


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, clock=lambda: NOW)) as test_client:
        yield test_client


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    """Alice and Bob, confirmed on both lists; one sent campaign to morning-briefing."""
    with db.session() as s:
        lists = [get_list(s, "morning-briefing"), get_list(s, "weekly-review")]
        people = [Subscriber(email="alice@example.com"), Subscriber(email="bob@example.com")]
        s.add_all(people)
        s.flush()
        s.add_all(
            Subscription(subscriber_id=p.id, list_id=li.id, status=SubscriptionStatus.CONFIRMED)
            for p in people
            for li in lists
        )
        campaign = Campaign(
            list_id=lists[0].id,
            kind=CampaignKind.DIGEST,
            status=CampaignStatus.SENT,
            subject="Morning",
        )
        s.add(campaign)
        s.flush()
        deliveries = [
            Delivery(
                campaign_id=campaign.id,
                subscriber_id=p.id,
                email=p.email,
                status=DeliveryStatus.SENT,
                provider_message_id="XMSG1",
            )
            for p in people
        ]
        s.add_all(deliveries)
        s.flush()
        return {
            "campaign": campaign.id,
            "alice": deliveries[0].id,
            "bob": deliveries[1].id,
            "morning": lists[0].id,
            "weekly": lists[1].id,
        }


def sg(kind: str, number: int, email: str = "alice@example.com", **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": int(NOW.timestamp()) - 60,
        "event": kind,
        "sg_event_id": f"evt-{number}",
        "sg_message_id": "XMSG1.filter0001-16-5F1A-0",
        **extra,
    }


def ours(ids: dict[str, int], who: str = "alice") -> dict[str, str]:
    """The custom_args our SendGrid sender sets, as SendGrid echoes them: strings."""
    return {"campaign_id": str(ids["campaign"]), "delivery_id": str(ids[who])}


def post(
    client: TestClient,
    body: bytes | list[Any],
    signer: Key,
    *,
    timestamp: int | None = None,
    sign_body: bytes | None = None,
) -> httpx2.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(timestamp if timestamp is not None else int(NOW.timestamp()))
    signed = stamp.encode() + (raw if sign_body is None else sign_body)
    signature = base64.b64encode(signer.sign(signed, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {SIGNATURE: signature, TIMESTAMP: stamp, "Content-Type": "application/json"}
    return client.post(URL, content=raw, headers=headers)


def stored(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Event)) or 0


def suppressions(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {row.email: row.reason for row in s.scalars(select(Suppression))}


def test_valid_batch_is_stored_and_counted_per_campaign(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [
        sg("processed", 1, **ours(seeded)),
        sg("delivered", 2, **ours(seeded)),
        sg("open", 3, **ours(seeded)),
        sg("click", 4, url="https://dispatch.example/a", **ours(seeded)),
        sg("delivered", 5, "bob@example.com", **ours(seeded, "bob")),
    ]
    response = post(client, batch, key)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 5, "duplicates": 0, "ignored": 0}
    with db.session() as s:
        counts = event_counts(s, seeded["campaign"])
        click = s.scalars(select(Event).where(Event.provider_event_id == "evt-4")).one()
    assert counts["delivered"] == 2 and counts["opened"] == 1 and counts["clicked"] == 1
    assert counts["queued"] == 1 and counts["bounced"] == 0
    assert (click.provider, click.type, click.email) == ("sendgrid", "clicked", "alice@example.com")
    assert (click.campaign_id, click.delivery_id) == (seeded["campaign"], seeded["alice"])
    assert click.payload["url"] == "https://dispatch.example/a"
    assert click.occurred_at == datetime.fromtimestamp(int(NOW.timestamp()) - 60, UTC)


def test_tampered_body_is_refused_and_nothing_stored(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    genuine = json.dumps([sg("delivered", 1, **ours(seeded))]).encode()
    forged = genuine.replace(b"delivered", b"spamreport")
    response = post(client, forged, key, sign_body=genuine)
    assert response.status_code == 403
    assert "signature" in response.json()["detail"]
    assert stored(db) == 0 and suppressions(db) == {}


def test_wrong_key_is_refused(client: TestClient, db: Database, seeded: dict[str, int]) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    response = post(client, [sg("bounce", 1, **ours(seeded))], other)
    assert response.status_code == 403
    assert stored(db) == 0 and suppressions(db) == {}


@pytest.mark.parametrize("missing", [[SIGNATURE], [TIMESTAMP], [SIGNATURE, TIMESTAMP]])
def test_missing_headers_are_refused(
    client: TestClient, key: Key, db: Database, missing: list[str]
) -> None:
    body = json.dumps([sg("delivered", 1)]).encode()
    stamp = str(int(NOW.timestamp()))
    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256())))
    headers = {SIGNATURE: signature.decode(), TIMESTAMP: stamp}
    for name in missing:
        del headers[name]
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "signature or timestamp header missing"
    assert stored(db) == 0


def test_garbage_signature_is_refused(client: TestClient, db: Database) -> None:
    stamp = str(int(NOW.timestamp()))
    for signature in ("not base64 at all!", "AAAA", base64.b64encode(b"x" * 70).decode()):
        headers = {SIGNATURE: signature, TIMESTAMP: stamp}
        response = client.post(URL, content=b"[]", headers=headers)
        assert response.status_code == 403, signature
    assert stored(db) == 0


@pytest.mark.parametrize("offset", [-601, 601, -86_400])
def test_stale_or_future_timestamps_are_refused(
    client: TestClient, key: Key, db: Database, offset: int
) -> None:
    response = post(client, [sg("delivered", 1)], key, timestamp=int(NOW.timestamp()) + offset)
    assert response.status_code == 403
    assert "away from now" in response.json()["detail"]
    assert stored(db) == 0


def test_a_recent_timestamp_is_accepted(client: TestClient, key: Key, db: Database) -> None:
    response = post(client, [sg("delivered", 1)], key, timestamp=int(NOW.timestamp()) - 590)
    assert response.status_code == 200 and stored(db) == 1


def test_no_key_configured_refuses_everything(settings: Settings, db: Database, key: Key) -> None:
    sendgrid = settings.delivery.sendgrid.model_copy(update={"webhook_public_key": None})
    delivery = settings.delivery.model_copy(update={"sendgrid": sendgrid})
    bare = settings.model_copy(update={"delivery": delivery})
    with TestClient(create_app(bare, db, clock=lambda: NOW)) as client:
        response = post(client, [sg("delivered", 1)], key)
    assert response.status_code == 403
    assert "webhook_public_key" in response.json()["detail"]
    assert stored(db) == 0


def test_a_malformed_key_in_config_fails_at_start(tmp_path: Path, database_url: str) -> None:
    from dispatch import config

    path = write_config(
        tmp_path, database_url, {r"^# webhook_public_key = .*$": 'webhook_public_key = "MFkwbad"'}
    )
    with pytest.raises(ConfigError, match="webhook_public_key"):
        create_app(config.load(path))


def test_duplicate_events_are_stored_once(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [sg("delivered", 1, **ours(seeded)), sg("open", 2, **ours(seeded))]
    first = post(client, [*batch, batch[0]], key)
    assert first.json() == {"stored": 2, "duplicates": 1, "ignored": 0}
    again = post(client, [*batch, sg("click", 3, **ours(seeded))], key)
    assert again.status_code == 200
    assert again.json() == {"stored": 1, "duplicates": 2, "ignored": 0}
    assert stored(db) == 3


def test_unknown_and_odd_entries_never_fail(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [
        sg("machine_opened", 1, **ours(seeded)),  # a type SendGrid may add one day
        sg("delivered", 2, campaign_id="12abc", delivery_id="99999999999999999999"),
        sg("open", 3, campaign_id=str(2**31), delivery_id=-4, timestamp=10**20, sg_message_id=5),
        sg("click", 4, email="not an address\u0000", url="https://x.example/\u0000"),
        sg("bounce", 5, email=None, event=7),
        {"event": "delivered", "email": "alice@example.com"},  # no sg_event_id
        {"event": "open", "sg_event_id": ""},
        "a string",
        None,
        [1, 2],
    ]
    response = post(client, batch, key)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 5, "duplicates": 0, "ignored": 5}
    with db.session() as s:
        rows = {e.provider_event_id: e for e in s.scalars(select(Event))}
    assert rows["evt-1"].type == "unknown" and rows["evt-1"].campaign_id == seeded["campaign"]
    # Unusable custom args: the message id (+ address) still finds the delivery.
    assert rows["evt-2"].delivery_id == seeded["alice"]
    assert rows["evt-3"].campaign_id is None and rows["evt-3"].occurred_at is None
    assert "\x00" not in rows["evt-4"].payload["url"]
    assert rows["evt-5"].type == "unknown"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[{", "not valid JSON"),
        (b'{"event": "open"}', "not an array of events (got an object)"),
        (b"[NaN]", "not valid JSON"),
        (b"[1e400]", "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_malformed_json_is_a_400_with_a_message(
    client: TestClient, key: Key, db: Database, body: bytes, message: str
) -> None:
    response = post(client, body, key)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert stored(db) == 0


def test_oversized_bodies_are_refused(client: TestClient, key: Key, db: Database) -> None:
    events = [sg("delivered", n, padding="x" * 1000) for n in range(5300)]
    response = post(client, events, key)
    assert response.status_code == 413
    assert stored(db) == 0


def test_bounce_suppresses_and_marks_the_delivery(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [
        sg("bounce", 1, type="bounce", reason="550 5.1.1 no such user", **ours(seeded)),
        sg("bounce", 2, "bob@example.com", type="blocked", **ours(seeded, "bob")),
    ]
    assert post(client, batch, key).json()["stored"] == 2
    assert suppressions(db) == {"alice@example.com": "bounce"}
    with db.session() as s:
        alice = s.get(Delivery, seeded["alice"])
        bob = s.get(Delivery, seeded["bob"])
        counts = event_counts(s, seeded["campaign"])
    assert alice is not None and bob is not None
    assert alice.status is DeliveryStatus.BOUNCED and alice.last_error == "550 5.1.1 no such user"
    assert bob.status is DeliveryStatus.SENT
    assert counts["bounced"] == 1 and counts["blocked"] == 1


def test_bounce_without_custom_args_matches_by_message_id(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    response = post(client, [sg("bounce", 1, "Bob@Example.com")], key)
    assert response.status_code == 200
    with db.session() as s:
        bob = s.get(Delivery, seeded["bob"])
        alice = s.get(Delivery, seeded["alice"])
        event = s.scalars(select(Event)).one()
    assert bob is not None and bob.status is DeliveryStatus.BOUNCED
    assert alice is not None and alice.status is DeliveryStatus.SENT
    assert (event.campaign_id, event.delivery_id) == (seeded["campaign"], seeded["bob"])


def test_spamreport_and_dropped_suppress(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [
        sg("spamreport", 1, **ours(seeded)),
        sg("dropped", 2, "bob@example.com", reason="Bounced Address", **ours(seeded, "bob")),
        sg("dropped", 3, "carol@example.org"),  # not ours at all: suppressed all the same
    ]
    assert post(client, batch, key).status_code == 200
    assert suppressions(db) == {
        "alice@example.com": "spamreport",
        "bob@example.com": "dropped",
        "carol@example.org": "dropped",
    }


def test_unsubscribe_leaves_only_the_campaigns_list(
    client: TestClient, key: Key, db: Database, seeded: dict[str, int]
) -> None:
    batch = [
        sg("unsubscribe", 1, **ours(seeded)),
        sg("group_unsubscribe", 2, "bob@example.com", asm_group_id=3, **ours(seeded, "bob")),
    ]
    assert post(client, batch, key).status_code == 200
    with db.session() as s:
        rows = {(r.subscriber_id, r.list_id): r for r in s.scalars(select(Subscription))}
        alice_id = s.get(Delivery, seeded["alice"]).subscriber_id  # type: ignore[union-attr]
        bob_id = s.get(Delivery, seeded["bob"]).subscriber_id  # type: ignore[union-attr]
    for person in (alice_id, bob_id):
        left = rows[(person, seeded["morning"])]
        kept = rows[(person, seeded["weekly"])]
        assert left.status is SubscriptionStatus.UNSUBSCRIBED and left.unsubscribed_at == NOW
        assert kept.status is SubscriptionStatus.CONFIRMED and kept.unsubscribed_at is None
    assert suppressions(db) == {}


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_says_when_the_database_is_unreachable(settings: Settings, tmp_path: Path) -> None:
    from dispatch.config import DatabaseSettings

    broken = Database(DatabaseSettings(url=f"sqlite:///{tmp_path}"))  # a folder, not a file
    with TestClient(create_app(settings, broken)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"
    broken.dispose()
