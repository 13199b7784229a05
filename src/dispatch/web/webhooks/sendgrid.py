"""`POST /webhooks/sendgrid`: SendGrid's signed Event Webhook.

Checks run in this order, and a failed check stores nothing:

1. a verification key is configured, both signature headers are present, and the
   timestamp is within `MAX_SKEW` of now (an old signed request is a replay) → else 403;
2. the body is at most `MAX_BODY` bytes → else 413;
3. the ECDSA signature over timestamp + raw body verifies (the sendgrid library's
   `EventWebhook`) → else 403;
4. the body is a JSON array → else 400.

Then every event is recorded in one transaction (`dispatch.events`) and the answer is
`{"stored": N, "duplicates": M, "ignored": K}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.events import BounceRules, sendgrid_events, store_events
from dispatch.store.database import Database
from dispatch.web.webhooks.body import json_value, kind_of, read_body, reject

log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024
MAX_SKEW = timedelta(minutes=10)
KEY_SETTING = "delivery.sendgrid.webhook_public_key"


def add_route(router: APIRouter, settings: Settings) -> None:
    """`POST /sendgrid` on `router`; the verification key is read (and checked) once, here."""
    verifier = sendgrid_verifier(settings)
    rules = BounceRules.from_settings(settings)

    @router.post("/sendgrid")
    async def sendgrid(request: Request) -> dict[str, int]:
        clock: Callable[[], datetime] = request.app.state.clock
        now = clock()
        signature, timestamp = _signed_headers(request, verifier, now)
        body = await read_body(request, MAX_BODY)
        text = _verified_text(verifier, body, signature, timestamp)
        events, ignored = sendgrid_events(_json_array(text))
        database: Database = request.app.state.database
        tally = await run_in_threadpool(store_events, database, events, now, rules)
        tally.ignored += ignored
        return tally.as_dict()


def sendgrid_verifier(settings: Settings) -> EventWebhook | None:
    """SendGrid's verifier for the configured key, None when no key is configured."""
    key = settings.delivery.sendgrid.webhook_public_key
    if not key:
        return None
    try:
        verifier = EventWebhook(key.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{settings.path.name}: {KEY_SETTING}: not a base64 DER public key as SendGrid "
            f"shows it ({exc})"
        ) from None
    if not isinstance(verifier.public_key, EllipticCurvePublicKey):
        raise ConfigError(f"{settings.path.name}: {KEY_SETTING}: not an elliptic-curve key")
    return verifier


def _reject(status: int, reason: str) -> HTTPException:
    return reject(status, reason, "sendgrid")


def _signed_headers(
    request: Request, verifier: EventWebhook | None, now: datetime
) -> tuple[str, str]:
    if verifier is None:
        raise _reject(403, f"signed webhooks are not accepted: {KEY_SETTING} is not configured")
    signature = request.headers.get(EventWebhookHeader.SIGNATURE)
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP)
    if not signature or not timestamp:
        raise _reject(403, "signature or timestamp header missing")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise _reject(403, f"timestamp {timestamp[:40]!r} is not a Unix time")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > MAX_SKEW.total_seconds():
        raise _reject(403, f"timestamp is {int(skew)} s away from now (replayed or clock wrong)")
    return signature, timestamp


def _verified_text(verifier: EventWebhook | None, body: bytes, signature: str, ts: str) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _reject(403, "body is not UTF-8: its signature cannot be checked") from None
    try:
        valid = verifier is not None and verifier.verify_signature(text, signature, ts)
    except ValueError:  # the signature is not base64
        valid = False
    if not valid:
        raise _reject(403, "signature does not match the body and timestamp")
    return text


def _json_array(text: str) -> list[Any]:
    parsed = json_value(text)
    if not isinstance(parsed, list):
        raise _reject(400, f"body is JSON but not an array of events (got {kind_of(parsed)})")
    return parsed
