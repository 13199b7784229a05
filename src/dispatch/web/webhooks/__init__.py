"""Provider webhooks under `/webhooks`, one module per provider: `sendgrid` (signed
Event Webhook) and `ses` (SES notifications through SNS). Each turns its payload into
neutral events (`dispatch.events`) recorded through the one policy."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from dispatch.config import Settings
from dispatch.web.webhooks import sendgrid, ses

TIMEOUT = httpx.Timeout(10.0)


def build_router(settings: Settings, client: httpx.Client | None = None) -> APIRouter:
    """The webhooks router; keys are read and checked once, here. `client` fetches SNS
    certificates and confirms subscriptions (tests pass one trusting their server)."""
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    sendgrid.add_route(router, settings)
    ses.add_route(router, settings, client or httpx.Client(timeout=TIMEOUT))
    return router
