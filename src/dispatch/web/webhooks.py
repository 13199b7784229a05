"""Provider webhooks: `POST /webhooks/sendgrid` (SendGrid's signed Event Webhook).

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

import json
import logging
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.events import sendgrid_events, store_events
from dispatch.store.database import Database

log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024
MAX_SKEW = timedelta(minutes=10)
# `\u0000` escapes outside an escaped backslash: PostgreSQL text and JSONB refuse NUL.
NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
KEY_SETTING = "delivery.sendgrid.webhook_public_key"
JSON_KINDS = {dict: "an object", str: "a string", int: "a number", float: "a number"}


def build_router(settings: Settings) -> APIRouter:
    """The webhooks router; the verification key is read (and checked) once, here."""
    verifier = sendgrid_verifier(settings)
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.post("/sendgrid")
    async def sendgrid(request: Request) -> dict[str, int]:
        clock: Callable[[], datetime] = request.app.state.clock
        now = clock()
        signature, timestamp = _signed_headers(request, verifier, now)
        body = await _read_body(request, MAX_BODY)
        text = _verified_text(verifier, body, signature, timestamp)
        events, ignored = sendgrid_events(_json_array(text))
        database: Database = request.app.state.database
        tally = await run_in_threadpool(store_events, database, events, now)
        tally.ignored += ignored
        return tally.as_dict()

    return router


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
    log.warning("webhooks/sendgrid: %s %s", status, reason)
    return HTTPException(status_code=status, detail=reason)


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


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _reject(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _reject(413, f"body larger than {limit} bytes")
    return bytes(body)


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
    try:
        parsed = json.loads(
            NUL_ESCAPE.sub(r"\1\\ufffd", text),
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as exc:
        raise _reject(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(parsed, list):
        kind = JSON_KINDS.get(type(parsed), "a value")
        raise _reject(400, f"body is JSON but not an array of events (got {kind})")
    return parsed


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value
