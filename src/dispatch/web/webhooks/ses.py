"""`POST /webhooks/ses`: Amazon SES bounce, complaint and delivery notifications, as SNS
delivers them (Amazon SES through the SMTP sender reports this way).

Checks run in this order, and a failed check stores nothing:

1. the body is at most `MAX_BODY` bytes → else 413; it is a JSON object → else 400;
2. the SNS signature verifies with a certificate fetched (once) from an SNS host
   (`[bounces.ses] certificate_hosts`, https only) → else 403;
3. the topic is one of `[bounces.ses] topic_arns`, when that list is set → else 403.

A `SubscriptionConfirmation` is confirmed by fetching its SubscribeURL (on an SNS host
too); a `Notification` carries one SES notification, recorded through the one policy.
Answers: `{"stored": N, "duplicates": M}`, or `{"subscribed": true}`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from dispatch.bounces.verp import Verp
from dispatch.config import Settings
from dispatch.events import BounceRules, store_events
from dispatch.events.ses import ses_events
from dispatch.events.sns import SnsRejected, SnsVerifier
from dispatch.store.database import Database
from dispatch.web.webhooks.body import json_value, kind_of, read_body, reject

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # SNS messages are at most 256 KB


def add_route(router: APIRouter, settings: Settings, client: httpx.Client) -> None:
    section = settings.bounces.ses
    verifier = SnsVerifier(section.certificate_hosts, client)
    rules = BounceRules.from_settings(settings)
    verp = Verp.from_settings(settings) if settings.bounces.domain else None

    @router.post("/ses")
    async def ses(request: Request) -> dict[str, Any]:
        body = await read_body(request, MAX_BODY, "ses")
        message = json_value(body.decode("utf-8", "replace"), "ses")
        if not isinstance(message, dict):
            raise _reject(400, f"body is JSON but not an SNS message (got {kind_of(message)})")
        try:
            await run_in_threadpool(verifier.verify, message)
        except SnsRejected as exc:
            raise _reject(403, str(exc)) from None
        topic = str(message.get("TopicArn", ""))
        if section.topic_arns and topic not in section.topic_arns:
            raise _reject(403, f"topic {topic[:200]!r} is not in bounces.ses.topic_arns")
        if message["Type"] != "Notification":
            return await run_in_threadpool(_subscription, verifier, message)
        events = ses_events(_notification(message), str(message.get("MessageId", "")), verp)
        database: Database = request.app.state.database
        now = request.app.state.clock()
        tally = await run_in_threadpool(store_events, database, events, now, rules)
        return {"stored": tally.stored, "duplicates": tally.duplicates}


def _notification(message: dict[str, Any]) -> Any:
    try:
        return json.loads(str(message.get("Message", "")))
    except ValueError:
        raise _reject(400, "the SNS Message is not an SES notification (not JSON)") from None


def _subscription(verifier: SnsVerifier, message: dict[str, Any]) -> dict[str, Any]:
    if message["Type"] == "UnsubscribeConfirmation":
        log.warning("webhooks/ses: SNS unsubscribed topic %s", message.get("TopicArn"))
        return {"unsubscribed": True}
    url = str(message.get("SubscribeURL", ""))
    if not verifier.allowed(url):
        raise _reject(403, f"SubscribeURL {url[:200]!r} is not on an SNS host")
    try:
        response = verifier.client.get(url, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise _reject(502, f"could not confirm the subscription: {exc}") from None
    if response.status_code != 200:
        raise _reject(502, f"could not confirm the subscription: HTTP {response.status_code}")
    log.info("webhooks/ses: subscribed to SNS topic %s", message.get("TopicArn"))
    return {"subscribed": True}


def _reject(status: int, reason: str) -> HTTPException:
    return reject(status, reason, "ses")
