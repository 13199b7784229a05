"""`make_sender(settings)`: the configured delivery backend, ready to use.

`delivery.backend` picks outbox (the default), smtp or sendgrid; `memory` can be asked
for explicitly (tests, dry runs). SMTP mail is DKIM-signed when `delivery.dkim.domain`
is set. When `delivery.rate_per_second` or `delivery.hourly_limit` is set, the sender is
wrapped in `Throttled`. Messages in flight over SMTP: the smaller of
`delivery.concurrency` and `delivery.smtp.pool_size` (one connection each).
"""

from __future__ import annotations

import ssl

from limits.storage import storage_from_string

from dispatch.config import Settings
from dispatch.delivery import dkim
from dispatch.delivery.base import Sender
from dispatch.delivery.memory import MemorySender
from dispatch.delivery.outbox import OutboxSender
from dispatch.delivery.sendgrid import SendgridSender
from dispatch.delivery.smtp import SmtpSender
from dispatch.delivery.throttle import Throttled
from dispatch.errors import ConfigError

BACKENDS = ("outbox", "smtp", "sendgrid", "memory")


def make_sender(
    settings: Settings,
    backend: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Sender:
    """The sender for `backend` (default: `delivery.backend`), throttled as configured.

    `ssl_context` replaces the system trust store for SMTP (a test server's certificate).
    """
    chosen = backend or settings.delivery.backend
    sender = _backend(settings, chosen, ssl_context)
    delivery = settings.delivery
    if delivery.rate_per_second > 0 or delivery.hourly_limit > 0:
        storage = storage_from_string(delivery.limiter_storage)  # shared when it is Redis
        return Throttled(sender, delivery.rate_per_second, delivery.hourly_limit, storage=storage)
    return sender


def _backend(settings: Settings, backend: str, ssl_context: ssl.SSLContext | None) -> Sender:
    delivery = settings.delivery
    if backend == "outbox":
        return OutboxSender(delivery.outbox.dir)
    if backend == "smtp":
        return SmtpSender.from_settings(settings, dkim.from_settings(settings), ssl_context)
    if backend == "sendgrid":
        return SendgridSender.from_settings(settings)
    if backend == "memory":
        return MemorySender()
    known = ", ".join(BACKENDS)
    raise ConfigError(f'{settings.path.name}: delivery.backend: no backend "{backend}" ({known})')
