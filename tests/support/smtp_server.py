"""A real SMTP server (aiosmtpd) on loopback that records what it accepts and can be
told to fail chosen recipients: `server.fail("x@example.com", "550 5.1.1 No such user")`,
`server.fail_temporarily(addr, 3)`, or `server.drop_every(n)` to cut connections.
`SmtpServer(ssl_context=…)` speaks implicit TLS; other keyword arguments go to aiosmtpd's
`SMTP` (`tls_context=…, require_starttls=True`, `authenticator=…`). `handler.sessions`
counts the connections that carried at least one message; `handler.data_delay` delays
the final reply to DATA of an accepted message (seconds)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # address → reply (permanent)
    transient: Counter[str] = field(default_factory=Counter)  # address → times to fail 451
    drop_every: int = 0  # close the connection after this many accepted messages (0: never)
    data_delay: float = 0.0  # seconds before the final reply to DATA
    sessions: int = 0  # connections that carried at least one MAIL command
    lock: threading.Lock = field(default_factory=threading.Lock)
    _accepted_since_drop: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not getattr(session, "dispatch_counted", False):
            session.dispatch_counted = True  # type: ignore[attr-defined]
            with self.lock:
                self.sessions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self.lock:
            if address in self.failures:
                return self.failures[address]
            if self.transient[address] > 0:
                self.transient[address] -= 1
                return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), data))
            self._accepted_since_drop += 1
            drop = self.drop_every and self._accepted_since_drop >= self.drop_every
            if drop:
                self._accepted_since_drop = 0
        if self.data_delay:  # accepted, but the reply is late
            await asyncio.sleep(self.data_delay)
        if drop and server.transport is not None:
            # accepted, the 250 written, then the connection is gone (the reply is written
            # before the event loop runs the scheduled close)
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 2.0.0 Message accepted"

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for item in self.received for rcpt in item.rcpt_tos)


class SmtpServer:
    """`with SmtpServer() as server:` → server.host, server.port, server.handler."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **smtp: Any) -> None:
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            data_size_limit=10_000_000,
            ssl_context=ssl_context,
            **smtp,
        )

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def fail(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self.handler.failures[address] = reply

    def fail_temporarily(self, address: str, times: int = 1) -> None:
        self.handler.transient[address] += times

    def drop_every(self, count: int) -> None:
        self.handler.drop_every = count
