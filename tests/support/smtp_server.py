"""A real SMTP server (aiosmtpd) on loopback that records what it accepts and misbehaves
on cue, the way real servers do.

Per recipient (the SMTP sender sends one recipient per message, so per message too);
each cue is used up after `times` transactions (default once):

- `server.fail(addr, "550 5.1.1 No such user")`: RCPT refused, every time;
- `server.fail_temporarily(addr, times, reply="451 …")`: RCPT refused for now (452 too);
- `server.greylist()`: 451 to each address's first RCPT (and accepted afterwards);
- `server.reply_after_data(addr, "554 5.7.1 Spam")`: that reply after the final dot
  (the message is kept only when the reply is 2xx);
- `server.stall(addr, seconds)`: the message is kept ("queued"), then no reply for
  `seconds`, longer than the client waits;
- `server.drop_after_data(addr)`: kept, then the connection closed before the reply;
- `server.drop_during_data(addr)`: the connection closed right after the 354, before
  the message was read: not kept.

Per connection: `server.greet("421 4.3.2 Try later")` answers the next new connection
with that instead of 220 and closes it (cue it after `start()`, which connects once);
`server.answer("MAIL", "421 …")` answers the next such command with the reply (a 421
then closes the connection; `None`: closed with no reply).
`server.drop_every(n)` closes the connection after every n-th accepted message (the 250
written first); `handler.data_delay` delays every final reply to DATA (seconds).

Whole server: SMTPUTF8 is offered unless `SmtpServer(enable_SMTPUTF8=False)`;
`SmtpServer(ssl_context=…)` speaks implicit TLS; other keyword arguments go to aiosmtpd's
`SMTP` (`tls_context=…, require_starttls=True`, `authenticator=…, auth_required=True`;
`authenticator=refuse_every_login` refuses AUTH whatever the credentials).
`server.stop()` and `server.start()` take it down and bring it back on the same port
(`server.outage(seconds)` does both in the background).

Records: `received` (kept messages, with their MAIL options), `recipients()` (a Counter),
`handler.sessions` (connections that carried at least one MAIL), `handler.transactions`
(DATA commands answered 354, per recipient).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from functools import partial
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

ACCEPTED = "250 2.0.0 Message accepted"
NO_CUE = object()
T = TypeVar("T")


def refuse_every_login(*args: object) -> AuthResult:
    """An aiosmtpd `authenticator` answering every AUTH with 535."""
    return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)

    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # address → reply (permanent)
    transient: Counter[str] = field(default_factory=Counter)  # address → times to refuse
    transient_reply: dict[str, str] = field(default_factory=dict)
    greylisting: bool = False
    greylisted: set[str] = field(default_factory=set)  # addresses told 451 once already
    after_data: dict[str, deque[str]] = field(default_factory=dict)  # address → replies
    stalls: dict[str, deque[float]] = field(default_factory=dict)  # address → seconds
    drops_after_data: Counter[str] = field(default_factory=Counter)
    drops_during_data: Counter[str] = field(default_factory=Counter)
    greetings: deque[str] = field(default_factory=deque)
    commands: dict[str, deque[str | None]] = field(default_factory=dict)
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in the EHLO reply
    drop_every: int = 0  # close the connection after this many accepted messages (0: never)
    data_delay: float = 0.0  # seconds before the final reply to DATA
    sessions: int = 0  # connections that carried at least one MAIL command
    transactions: Counter[str] = field(default_factory=Counter)  # 354s given, per recipient
    lock: threading.Lock = field(default_factory=threading.Lock)
    _accepted_since_drop: int = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads pipelined commands in turn; it just never says so
            responses.insert(-1, "250-PIPELINING")
        return responses

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
                return self.transient_reply.get(
                    address, "451 4.3.0 Temporary failure, try again later"
                )
            if self.greylisting and address not in self.greylisted:
                self.greylisted.add(address)
                return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""  # bytes as received, even with decode_data
        received = Received(
            str(envelope.mail_from), list(envelope.rcpt_tos), data, list(envelope.mail_options)
        )
        with self.lock:
            reply = _take(self.after_data, envelope.rcpt_tos)
            if reply is not None and not reply.startswith("2"):
                return reply  # refused: not kept
            self.received.append(received)
            stall = _take(self.stalls, envelope.rcpt_tos)
            vanish = _use(self.drops_after_data, envelope.rcpt_tos)
            self._accepted_since_drop += 1
            drop = self.drop_every and self._accepted_since_drop >= self.drop_every
            if drop:
                self._accepted_since_drop = 0
        if vanish:  # queued, and the connection is gone before the reply
            await _hang_up(server)
        if stall is not None or self.data_delay:  # queued, but the reply is late
            await asyncio.sleep(self.data_delay if stall is None else stall)
        if drop and server.transport is not None:
            # accepted, the 250 written, then the connection is gone (the reply is written
            # before the event loop runs the scheduled close)
            asyncio.get_running_loop().call_soon(server.transport.close)
        return reply or ACCEPTED

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for item in self.received for rcpt in item.rcpt_tos)

    def take_greeting(self) -> str | None:
        with self.lock:
            return self.greetings.popleft() if self.greetings else None

    def take_command(self, command: str) -> object:
        with self.lock:
            replies = self.commands.get(command)
            return replies.popleft() if replies else NO_CUE

    def take_drop_during_data(self, rcpt_tos: list[str]) -> bool:
        with self.lock:
            self.transactions.update(rcpt_tos)
            return _use(self.drops_during_data, rcpt_tos)


def _take(cues: dict[str, deque[T]], addresses: list[str]) -> T | None:
    """The next cued value for the first of `addresses` that has one (used up)."""
    for address in addresses:
        queued = cues.get(address)
        if queued:
            return queued.popleft()
    return None


def _use(counts: Counter[str], addresses: list[str]) -> bool:
    for address in addresses:
        if counts[address] > 0:
            counts[address] -= 1
            return True
    return False


async def _hang_up(server: SMTP) -> None:
    """Close the connection without a word and wait for aiosmtpd to cancel this session
    (so that nothing more is read or written on it)."""
    if server.transport is not None:
        server.transport.close()
    await asyncio.get_running_loop().create_future()


class _CuedSMTP(SMTP):
    """aiosmtpd's SMTP, answering cued greetings and commands before its own code runs."""

    event_handler: RecordingHandler

    def __init__(self, handler: RecordingHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        for command, method in list(self._smtp_methods.items()):
            self._smtp_methods[command] = partial(self._cued, command, method)

    async def _handle_client(self) -> None:
        reply = self.event_handler.take_greeting()
        if reply is None:
            await super()._handle_client()
            return
        await self.push(reply)
        await _hang_up(self)

    async def _cued(self, command: str, method: Callable[[str], Awaitable[None]], arg: str) -> None:
        reply = self.event_handler.take_command(command)
        if reply is NO_CUE:
            await method(arg)
            return
        if isinstance(reply, str):
            await self.push(reply)
            if not reply.startswith("421"):
                return
        await _hang_up(self)

    async def smtp_DATA(self, arg: str) -> None:
        rcpt_tos = list(self.envelope.rcpt_tos) if self.envelope is not None else []
        if not rcpt_tos or arg:
            await super().smtp_DATA(arg)
            return
        if self.event_handler.take_drop_during_data(rcpt_tos):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            if self.transport is not None:
                self.transport.abort()  # whatever the client sent is not read
            await asyncio.get_running_loop().create_future()  # until aiosmtpd cancels it
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CuedSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """`with SmtpServer() as server:` → server.host, server.port, server.handler."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, pipelining: bool = False, **smtp: Any
    ) -> None:
        self.handler = RecordingHandler(pipelining=pipelining)
        self.host = "127.0.0.1"
        self.port = free_port()
        self._ssl_context = ssl_context
        self._smtp = {"data_size_limit": 10_000_000} | smtp
        self._controller: _Controller | None = None
        self._outage: threading.Thread | None = None

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._outage is not None:
            self._outage.join()
        self.stop()

    def start(self) -> None:
        """Listen (again) on `port`, with the same handler and its records and cues."""
        if self._controller is not None:
            return
        controller = _Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            ssl_context=self._ssl_context,
            **self._smtp,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and drop every connection (connections are then refused)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def outage(self, seconds: float) -> threading.Thread:
        """Stop now, start again on the same port after `seconds` (in the background)."""
        self.stop()
        timer = threading.Timer(seconds, self.start)
        timer.start()
        self._outage = timer
        return timer

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def fail(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self.handler.failures[address] = reply

    def fail_temporarily(
        self,
        address: str,
        times: int = 1,
        reply: str = "451 4.3.0 Temporary failure, try again later",
    ) -> None:
        with self.handler.lock:
            self.handler.transient[address] += times
            self.handler.transient_reply[address] = reply

    def greylist(self) -> None:
        self.handler.greylisting = True

    def reply_after_data(self, address: str, reply: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.after_data.setdefault(address, deque()).extend([reply] * times)

    def stall(self, address: str, seconds: float, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.stalls.setdefault(address, deque()).extend([seconds] * times)

    def drop_after_data(self, address: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.drops_after_data[address] += times

    def drop_during_data(self, address: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.drops_during_data[address] += times

    def greet(self, reply: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.greetings.extend([reply] * times)

    def answer(self, command: str, reply: str | None, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.commands.setdefault(command.upper(), deque()).extend([reply] * times)

    def drop_every(self, count: int) -> None:
        self.handler.drop_every = count
