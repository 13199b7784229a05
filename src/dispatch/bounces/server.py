"""`dispatch bounces serve`: an SMTP or LMTP receiver (aiosmtpd) for bounce mail.

An MX, or a Postfix transport (`bounces.example  lmtp:inet:127.0.0.1:2525`), hands it
what comes back to the VERP return path. RCPT is accepted only for a VERP address whose
MAC verifies (anything else: 550, so nobody can use it to feed us reports); the message
is recorded (`intake`) before the final 250; if it cannot be stored the answer is 451
and the MTA tries again later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from dispatch.bounces.intake import BounceIntake
from dispatch.config import Settings
from dispatch.logs import event

log = logging.getLogger(__name__)


class BounceHandler:
    """aiosmtpd handler: verify recipients, record each message, answer."""

    def __init__(self, intake: BounceIntake, lmtp: bool = False) -> None:
        self.intake = intake
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.intake.verified([address]) is None:
            event(log, "bounces.refused", level=logging.WARNING, rcpt=address[:320])
            return f"550 5.1.1 <{address[:200]}>: not a bounce address of this server"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data or "").encode("utf-8", "replace")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.intake.handle, raw, list(envelope.rcpt_tos))
        except Exception as exc:  # the store is locked or gone: the MTA keeps the message
            log.exception("bounces: could not record a report: %s", exc)
            return self._reply("451 4.3.0 could not record the report; try again later", envelope)
        return self._reply("250 2.0.0 report recorded", envelope)

    def _reply(self, line: str, envelope: Envelope) -> str:
        """LMTP answers DATA once per recipient."""
        return "\r\n".join([line] * len(envelope.rcpt_tos)) if self.lmtp else line


class BounceController(Controller):
    """aiosmtpd's controller, speaking LMTP when asked."""

    def __init__(self, handler: BounceHandler, host: str, port: int, max_bytes: int) -> None:
        self.lmtp = handler.lmtp
        super().__init__(handler, hostname=host, port=port, data_size_limit=max_bytes)

    def factory(self) -> SMTP:
        if self.lmtp:
            return LMTP(self.handler, **self.SMTP_kwargs)
        return super().factory()


def listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def bounce_server(settings: Settings, intake: BounceIntake) -> BounceController:
    """The receiver `[bounces] listen` asks for (not started)."""
    if settings.bounces.listen is None:
        raise ValueError("bounces.listen is not set")
    host, port = listen_address(settings.bounces.listen)
    handler = BounceHandler(intake, lmtp=settings.bounces.protocol == "lmtp")
    return BounceController(handler, host, port, settings.bounces.max_message_bytes)
