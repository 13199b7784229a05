"""`make_sender(settings)`: the configured delivery backend, ready to use.

`delivery.backend` picks outbox (the default), smtp or sendgrid; `memory` can be asked
for explicitly (tests, dry runs). SMTP mail is DKIM-signed when `delivery.dkim.domain`
is set. Messages in flight at once: `delivery.concurrency` (over SMTP, at most
`delivery.smtp.pool_size`: one connection each). The send rate is the engine's
(`delivery.pacing.Pacer`), not the sender's.
"""

from __future__ import annotations

import ssl

from dispatch.config import Settings
from dispatch.delivery import dkim
from dispatch.delivery.base import Sender
from dispatch.delivery.memory import MemorySender
from dispatch.delivery.outbox import OutboxSender
from dispatch.delivery.sendgrid import SendgridSender
from dispatch.delivery.smtp import SmtpSender
from dispatch.errors import ConfigError

BACKENDS = ("outbox", "smtp", "sendgrid", "memory")


def make_sender(
    settings: Settings,
    backend: str | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Sender:
    """The sender for `backend` (default: `delivery.backend`).

    `ssl_context` replaces the system trust store for SMTP (a test server's certificate).
    """
    return _backend(settings, backend or settings.delivery.backend, ssl_context)


def _backend(settings: Settings, backend: str, ssl_context: ssl.SSLContext | None) -> Sender:
    delivery = settings.delivery
    if backend == "outbox":
        return OutboxSender(delivery.outbox.dir, concurrency=delivery.concurrency)
    if backend == "smtp":
        return SmtpSender.from_settings(settings, dkim.from_settings(settings), ssl_context)
    if backend == "sendgrid":
        return SendgridSender.from_settings(settings)
    if backend == "memory":
        return MemorySender()
    known = ", ".join(BACKENDS)
    raise ConfigError(f'{settings.path.name}: delivery.backend: no backend "{backend}" ({known})')
