"""`SmtpSender`: each message over a pool of reused SMTP connections (smtplib).

The engine calls `deliver` from up to `concurrency` threads at once, one message each;
each thread takes a connection from the pool (at most `concurrency` are open) and runs
one MAIL / RCPT / DATA transaction. What the server says becomes the result:

- the connection cannot be had (refused, timed out, `421` greeting) → `ProviderUnavailable`
  (temporary); TLS or authentication fails → `ProviderUnavailable` (needs the settings
  fixed); `MAIL FROM` refused → `ProviderUnavailable`: the fault is ours, not a recipient's;
- MAIL, RCPT and DATA go in one write to a server that offers PIPELINING (RFC 2920);
- `RCPT`/`DATA` refused with `4xx` (greylisting, 452) → TEMPORARY, retried on backoff;
  `5xx` → PERMANENT, suppressed when the mailbox does not exist (`5.1.x`, or a bare
  550/551/553 to RCPT);
- the connection dropped, or `421`, before the end of the message was written: the
  server cannot have accepted it, so it is tried once more on a new connection;
- `250` after the final dot → SENT (provider id: the server's queue id, else the
  Message-ID); no reply after the final dot within `timeout`, or the connection gone
  before the reply → UNKNOWN: the server may have queued it (in doubt, sent again later).

International addresses (RFC 6531): domains go out as A-labels; a non-ASCII local part
is sent with `SMTPUTF8` when the server offers it, and otherwise fails alone, permanently.
Optional DKIM: `signer.sign(bytes)` returns the message with its signature added.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from typing import Protocol

from dispatch.config import Settings
from dispatch.delivery.base import (
    Admit,
    Envelope,
    Outcome,
    OutgoingMessage,
    ProviderUnavailable,
    SendResult,
    build_or_fail,
)
from dispatch.delivery.smtp_pool import (
    ConnectError,
    ConnectionPool,
    SmtpServerConfig,
    reply_text,
)
from dispatch.subscribers.addresses import wire_address

NOT_ACCEPTED = 421  # "service not available, closing channel": nothing was accepted
MAILBOX_GONE = re.compile(r"^5\.1\.\d{1,3}\b")
ENHANCED = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\b")
QUEUE_ID = re.compile(r"queued as ([\w.@<>-]+)", re.IGNORECASE)


class Signer(Protocol):
    """`dispatch.delivery.dkim.DkimSigner`, or anything signing the same way."""

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature header added at the top; ValueError if not."""
        ...


class _Dropped(Exception):
    """The connection went away before the end of the message was written: not accepted."""


class _NoAnswer(Exception):
    """The message was written and no reply came: the server may have accepted it."""


class SmtpSender:
    """Implements `dispatch.delivery.base.Sender` over SMTP."""

    name = "smtp"
    unit = 1

    def __init__(
        self, config: SmtpServerConfig, pool_size: int = 2, signer: Signer | None = None
    ) -> None:
        self.config = config
        self.signer = signer
        self.pool = ConnectionPool(config)
        self.concurrency = pool_size  # messages in flight at once, one connection each

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        signer: Signer | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> SmtpSender:
        """From `delivery.smtp`; `delivery.concurrency` caps the connections in use."""
        smtp = settings.delivery.smtp
        password = settings.smtp_password
        config = SmtpServerConfig(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=password.get_secret_value() if password else None,
            timeout=smtp.timeout,
            ssl_context=ssl_context,
        )
        workers = min(smtp.pool_size, settings.delivery.concurrency)
        return cls(config, pool_size=workers, signer=signer)

    def deliver(
        self, message: OutgoingMessage, envelopes: Sequence[Envelope], admit: Admit
    ) -> list[SendResult]:
        if len(envelopes) > self.unit:  # a Halt or a refusal would lose the earlier results
            raise ValueError(f"smtp sender: {len(envelopes)} envelopes > unit {self.unit}")
        return [self._deliver(message, envelope, admit) for envelope in envelopes]

    def close(self) -> None:
        self.pool.close()
        close_signer = getattr(self.signer, "close", None)  # a signer with processes
        if close_signer is not None:
            close_signer()

    def _deliver(self, message: OutgoingMessage, envelope: Envelope, admit: Admit) -> SendResult:
        data = build_or_fail(envelope, self._build(message))
        if isinstance(data, SendResult):
            return data
        mail_from = envelope.return_path or message.from_email  # VERP when [bounces] domain
        sender, recipient = wire_address(mail_from), wire_address(envelope.recipient.email)
        utf8 = sender.needs_smtputf8 or recipient.needs_smtputf8
        admitted = False
        for attempt in range(2):  # a connection lost before the end of the message: once more
            connection = self._connection(fresh=attempt > 0)
            if utf8 and not connection.has_extn("smtputf8"):
                self.pool.release(connection)
                return _result(envelope, Outcome.PERMANENT, self._no_smtputf8(envelope))
            if not admitted:
                try:
                    admit([envelope])
                except BaseException:
                    self.pool.release(connection)
                    raise
                admitted = True
            try:
                result, reusable = _transact(
                    connection, sender.address, recipient.address, envelope, data, utf8
                )
            except _Dropped as exc:
                self.pool.discard(connection)
                if attempt:
                    raise ProviderUnavailable(
                        f"{self.config.where}: connection lost: {exc}", True
                    ) from exc
                continue
            except BaseException:
                self.pool.discard(connection)
                raise
            (self.pool.release if reusable else self.pool.discard)(connection)
            return result
        raise AssertionError("unreachable")

    def _build(self, message: OutgoingMessage):  # type: ignore[no-untyped-def]
        def build(envelope: Envelope) -> bytes:
            data = message.as_bytes(envelope)
            if self.signer is None:
                return data
            try:
                return self.signer.sign(data)
            except ValueError as exc:  # the key, not this recipient: stop the campaign
                raise ProviderUnavailable(f"DKIM signing failed: {exc}", False) from exc

        return build

    def _connection(self, fresh: bool) -> smtplib.SMTP:
        try:
            return self.pool.acquire(fresh)
        except ConnectError as exc:
            raise ProviderUnavailable(str(exc), exc.temporary) from exc

    def _no_smtputf8(self, envelope: Envelope) -> str:
        return (
            f"{envelope.recipient.email!r} has a non-ASCII local part, and the SMTP server "
            f"{self.config.where} does not offer SMTPUTF8 (RFC 6531) to carry it"
        )


def _transact(
    connection: smtplib.SMTP,
    mail_from: str,
    rcpt_to: str,
    envelope: Envelope,
    data: bytes,
    utf8: bool,
) -> tuple[SendResult, bool]:
    """One MAIL/RCPT/DATA transaction → (result, whether the connection can be reused)."""
    (code, reply), rcpt, start = _envelope(connection, mail_from, rcpt_to, utf8)
    if code != 250 and utf8 and 500 <= code < 600:  # SMTPUTF8 refused: this recipient's
        error = f"MAIL FROM with SMTPUTF8 (for {rcpt_to!r}) refused: {code} {reply}"
        return _result(envelope, Outcome.PERMANENT, error), _reset(connection)
    if code != 250:
        _reset(connection)
        reason = f"MAIL FROM <{mail_from}> refused: {code} {reply}"
        raise ProviderUnavailable(reason, temporary=400 <= code < 500)
    assert rcpt is not None
    if rcpt[0] not in (250, 251):
        return _refused(envelope, *rcpt, rcpt=True), _reset(connection)
    assert start is not None
    if start[0] != 354:
        return _refused(envelope, *start, rcpt=False), _reset(connection)
    try:
        code, reply = _send_data(connection, data)
    except _NoAnswer as exc:
        return _result(envelope, Outcome.UNKNOWN, f"no reply after the message: {exc}"), False
    if code == NOT_ACCEPTED:
        return _result(envelope, Outcome.TEMPORARY, f"{code} {reply}"), False
    if code != 250:
        return _refused(envelope, code, reply, rcpt=False), _reset(connection)
    found = QUEUE_ID.search(reply)
    accepted = SendResult(
        envelope.delivery_id,
        Outcome.SENT,
        provider_message_id=found.group(1) if found else envelope.message_id,
    )
    return accepted, True


Reply = tuple[int, str]


def _envelope(
    connection: smtplib.SMTP, mail_from: str, rcpt_to: str, utf8: bool
) -> tuple[Reply, Reply | None, Reply | None]:
    """The replies to MAIL, RCPT and DATA (None for a command not sent after a refusal).

    To a server that offers PIPELINING (RFC 2920) the three commands go in one write and
    the replies are read after: one round trip instead of three, as MTAs do."""
    options = _mail_options(connection, utf8)
    if connection.has_extn("pipelining"):
        return _pipelined(connection, mail_from, rcpt_to, options)
    mail = _reply(lambda: connection.mail(mail_from, options))
    if mail[0] != 250:
        return mail, None, None
    rcpt = _reply(lambda: connection.rcpt(rcpt_to))
    if rcpt[0] not in (250, 251):
        return mail, rcpt, None
    return mail, rcpt, _reply(lambda: connection.docmd("data"))


def _pipelined(
    connection: smtplib.SMTP, mail_from: str, rcpt_to: str, options: tuple[str, ...]
) -> tuple[Reply, Reply, Reply]:
    mail = "".join([f"MAIL FROM:<{mail_from}>", *(f" {option}" for option in options)])
    commands = f"{mail}\r\nRCPT TO:<{rcpt_to}>\r\nDATA\r\n".encode()
    mail_reply, rcpt_reply, data_reply = _replies(connection, commands, 3)
    if data_reply[0] == 354 and (mail_reply[0] != 250 or rcpt_reply[0] not in (250, 251)):
        # DATA went ahead without a valid recipient: end an empty message, to be refused
        _replies(connection, b".\r\n", 1)
        data_reply = (503, "no valid recipient")
    return mail_reply, rcpt_reply, data_reply


def _replies(connection: smtplib.SMTP, commands: bytes, count: int) -> list[Reply]:
    """Write `commands`, read `count` replies; `_Dropped` if the server did not take them."""
    try:
        connection.send(commands)
        replies = [connection.getreply() for _ in range(count)]
    except smtplib.SMTPServerDisconnected as exc:
        raise _Dropped(str(exc) or "connection closed") from exc
    found = [(code, reply_text(raw)) for code, raw in replies]
    for code, text in found:
        if code == NOT_ACCEPTED:
            raise _Dropped(f"{code} {text}")
    return found


def _mail_options(connection: smtplib.SMTP, utf8: bool) -> tuple[str, ...]:
    """SMTPUTF8 for a non-ASCII address; BODY=8BITMIME only to a server that offers it
    (one that does not may refuse the parameter, and with it every such recipient)."""
    if not utf8:
        return ()
    return ("SMTPUTF8", "BODY=8BITMIME") if connection.has_extn("8bitmime") else ("SMTPUTF8",)


def _send_data(connection: smtplib.SMTP, data: bytes) -> tuple[int, str]:
    """The message and its final dot, then the reply; `_Dropped` if the message could not be
    written whole, `_NoAnswer` if it was and no reply came."""
    body = data.replace(b"\n.", b"\n..")  # dot-stuffing (RFC 5321 4.5.2), at C speed
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    try:
        connection.send(body + b".\r\n")
    except smtplib.SMTPServerDisconnected as exc:
        raise _Dropped(str(exc) or "connection closed") from exc
    try:
        code, raw = connection.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        raise _NoAnswer(str(exc) or "connection closed") from exc
    return code, reply_text(raw)


def _reply(command) -> Reply:  # type: ignore[no-untyped-def]
    """Run one SMTP command → (code, reply text); `_Dropped` if the server did not take it."""
    try:
        code, raw = command()
    except smtplib.SMTPServerDisconnected as exc:
        raise _Dropped(str(exc) or "connection closed") from exc
    text = reply_text(raw)
    if code == NOT_ACCEPTED:
        raise _Dropped(f"{code} {text}")
    return code, text


def _refused(envelope: Envelope, code: int, reply: str, rcpt: bool) -> SendResult:
    """A reply to RCPT or DATA that is not acceptance, as a per-recipient result."""
    error = f"{code} {reply}"
    if not 500 <= code < 600:
        return _result(envelope, Outcome.TEMPORARY, error)
    enhanced = MAILBOX_GONE.match(reply) is not None
    bare = rcpt and code in (550, 551, 553) and not ENHANCED.match(reply)
    return SendResult(
        envelope.delivery_id, Outcome.PERMANENT, error=error, suppress=enhanced or bare
    )


def _result(envelope: Envelope, outcome: Outcome, error: str) -> SendResult:
    return SendResult(envelope.delivery_id, outcome, error=error)


def _reset(connection: smtplib.SMTP) -> bool:
    """RSET after a refused transaction; False when the connection is no longer usable."""
    try:
        code, _ = connection.rset()
    except (OSError, smtplib.SMTPException):
        return False
    return code == 250
