"""`POST /webhooks/ses`: SNS messages signed with a key and certificate made here, the
certificate served over https from a loopback host the config allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import (
    Delivery,
    DeliveryStatus,
    Event,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from dispatch.web import create_app
from support.bounces import BOUNCE_LINES, SentCampaign, send_campaign
from support.sns import (
    TOPIC,
    SnsHost,
    notification,
    ses_bounce,
    ses_complaint,
    signed,
    signing_pair,
)
from support.tls import tls_contexts


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "ses-webhook-secret")


@pytest.fixture(scope="module")
def pair() -> tuple[object, bytes]:
    return signing_pair()


@pytest.fixture
def host(tmp_path: Path, pair: tuple[object, bytes]) -> Iterator[tuple[SnsHost, httpx.Client]]:
    server_context, client_context = tls_contexts(tmp_path)
    with SnsHost(server_context, pair[1]) as sns, httpx.Client(verify=client_context) as client:
        yield sns, client


def ses_settings(tmp_path: Path, url: str, topics: str = "[]") -> Settings:
    lines = BOUNCE_LINES | {
        r"^certificate_hosts = .*$": 'certificate_hosts = ["127.0.0.1"]',
        r"^topic_arns = \[\].*$": f"topic_arns = {topics}",
    }
    return config.load(write_config(tmp_path, url, lines))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return ses_settings(tmp_path, database_url)


@pytest.fixture
def sent(db: Database, settings: Settings) -> SentCampaign:
    return send_campaign(db, settings, people=3)


@pytest.fixture
def client(
    settings: Settings, db: Database, host: tuple[SnsHost, httpx.Client]
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, http_client=host[1])) as test_client:
        yield test_client


def stored(db: Database) -> tuple[dict[str, str], list[tuple[str, str | None]]]:
    with db.session() as session:
        kept = {row.email: row.reason for row in session.scalars(select(Suppression))}
        events = [
            (row.type, row.email) for row in session.scalars(select(Event).order_by(Event.id))
        ]
    return kept, events


def test_subscription_is_confirmed_at_the_sns_host(
    client: TestClient, host: tuple[SnsHost, httpx.Client], pair: tuple[object, bytes]
) -> None:
    sns, _ = host
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425f004ae",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": sns.url("/confirm?Action=ConfirmSubscription&Token=2336"),
        "Timestamp": "2026-12-01T15:00:00.000Z",
        "SigningCertURL": sns.url("/cert.pem"),
    }
    response = client.post("/webhooks/ses", json=signed(pair[0], message))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.json() == {"subscribed": True}
    assert sns.hits["/confirm"] == 1


@pytest.mark.parametrize("version", ["1", "2"])
def test_bounces_and_complaints_take_effect(
    client: TestClient,
    db: Database,
    sent: SentCampaign,
    host: tuple[SnsHost, httpx.Client],
    pair: tuple[object, bytes],
    version: str,
) -> None:
    sns, _ = host
    hard, complainer, soft = sorted(sent.sent)
    cert = sns.url("/cert.pem")
    bodies = []
    for number, (who, make) in enumerate(
        [(hard, ses_bounce), (complainer, ses_complaint)], start=1
    ):
        envelope = sent.sent[who].envelope
        ses = make(who, envelope.return_path, envelope.message_id)
        bodies.append(signed(pair[0], notification(cert, ses, number), version))  # type: ignore[arg-type]
    envelope = sent.sent[soft].envelope
    transient = ses_bounce(soft, "briefing@dispatch.example", envelope.message_id, permanent=False)
    bodies.append(signed(pair[0], notification(cert, transient, 3), version))  # type: ignore[arg-type]
    for body in bodies:
        response = client.post("/webhooks/ses", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"stored": 1, "duplicates": 0}
    assert client.post("/webhooks/ses", json=bodies[0]).json() == {"stored": 0, "duplicates": 1}
    assert sns.hits["/cert.pem"] == 1  # fetched once, then cached
    kept, events = stored(db)
    assert kept == {hard: "bounce:permanent", complainer: "complaint"}
    assert events == [("bounced", hard), ("complained", complainer), ("soft_bounced", soft)]
    with db.session() as session:
        rows = {row.email: row for row in session.scalars(select(Delivery))}
        subscriptions = {
            s.subscriber.email: s.status for s in session.scalars(select(Subscription))
        }
        matched = {row.email: row.delivery_id for row in session.scalars(select(Event))}
    assert rows[hard].status is DeliveryStatus.BOUNCED and "5.1.1" in (rows[hard].last_error or "")
    assert rows[soft].status is DeliveryStatus.BOUNCED  # matched by Message-ID and address
    assert all(matched.values())
    assert subscriptions[complainer] is SubscriptionStatus.UNSUBSCRIBED


def test_a_bad_signature_is_refused_and_changes_nothing(
    client: TestClient,
    db: Database,
    sent: SentCampaign,
    host: tuple[SnsHost, httpx.Client],
    pair: tuple[object, bytes],
) -> None:
    sns, _ = host
    victim = sorted(sent.sent)[0]
    envelope = sent.sent[victim].envelope
    body = signed(
        pair[0],
        notification(
            sns.url("/cert.pem"), ses_bounce(victim, envelope.return_path, envelope.message_id)
        ),
    )  # type: ignore[arg-type]
    tampered = body | {"Message": body["Message"].replace("Permanent", "Transient")}
    response = client.post("/webhooks/ses", json=tampered)
    assert response.status_code == 403 and "does not match" in response.text
    other_key, _ = signing_pair()
    forged = signed(
        other_key, notification(sns.url("/cert.pem"), ses_bounce(victim, "x@y.example", "<a@b>"), 9)
    )
    assert client.post("/webhooks/ses", json=forged).status_code == 403
    garbage = body | {"Signature": "not base64!"}
    assert client.post("/webhooks/ses", json=garbage).status_code == 403
    assert stored(db) == ({}, [])


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.evil.example/cert.pem",
        "http://127.0.0.1:1/cert.pem",
        "https://127.0.0.1:1/cert.txt",
        "file:///etc/ssl/cert.pem",
    ],
)
def test_a_foreign_certificate_url_is_never_fetched(
    client: TestClient,
    db: Database,
    host: tuple[SnsHost, httpx.Client],
    pair: tuple[object, bytes],
    url: str,
) -> None:
    sns, _ = host
    body = signed(pair[0], notification(url, ses_bounce("a@example.com", "x@y", "<a@b>")))  # type: ignore[arg-type]
    response = client.post("/webhooks/ses", json=body)
    assert response.status_code == 403 and "not on an SNS host" in response.text
    assert sum(sns.hits.values()) == 0 and stored(db) == ({}, [])


def test_a_subscribe_url_off_the_sns_hosts_is_refused(
    client: TestClient, host: tuple[SnsHost, httpx.Client], pair: tuple[object, bytes]
) -> None:
    sns, _ = host
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "1",
        "Token": "t",
        "TopicArn": TOPIC,
        "Message": "subscribe",
        "SubscribeURL": "https://evil.example/confirm",
        "Timestamp": "2026-12-01T15:00:00.000Z",
        "SigningCertURL": sns.url("/cert.pem"),
    }
    response = client.post("/webhooks/ses", json=signed(pair[0], message))  # type: ignore[arg-type]
    assert response.status_code == 403 and sns.hits["/confirm"] == 0


def test_other_topics_and_malformed_bodies_are_refused(
    tmp_path: Path,
    database_url: str,
    db: Database,
    host: tuple[SnsHost, httpx.Client],
    pair: tuple[object, bytes],
) -> None:
    sns, client = host
    (tmp_path / "other").mkdir()
    only = ses_settings(tmp_path / "other", database_url, '["arn:aws:sns:eu-west-1:1:other"]')
    with TestClient(create_app(only, db, http_client=client)) as web:
        body = signed(
            pair[0], notification(sns.url("/cert.pem"), ses_bounce("a@example.com", "x@y", "<a@b>"))
        )  # type: ignore[arg-type]
        response = web.post("/webhooks/ses", json=body)
        assert response.status_code == 403 and "topic_arns" in response.text
        assert web.post("/webhooks/ses", content=b"not json").status_code == 400
        assert web.post("/webhooks/ses", json=[1, 2]).status_code == 400
        assert web.post("/webhooks/ses", json={"Type": "Other"}).status_code == 403
        assert web.post("/webhooks/ses", content=b"{" + b" " * 300_000 + b"}").status_code == 413
    assert stored(db) == ({}, [])
