"""`SmtpSender`: each message over a pool of reused SMTP connections (smtplib).

A batch is spread over `pool_size` worker threads, one connection each; results are
yielded as the workers finish them. Each message is one MAIL / RCPT / DATA transaction:

- final `250` to DATA: SENT (provider id: the server's queue id, else the Message-ID);
- a per-recipient `4xx`: TEMPORARY; `5xx`: PERMANENT, and the address is suppressed
  when the reply says the mailbox does not exist (`5.1.x`, or a bare 550/551/553 to RCPT);
- MAIL FROM refused: TEMPORARY for that message, since the fault is the sender's, not
  the recipient's (a streak of them pauses the campaign);
- the connection dropped (or `421`) before the server's final reply to DATA: the
  server did not accept the message, so it is retried once on a new connection;
- no reply to DATA within the timeout: TEMPORARY, not retried at once, since the server
  may have accepted it.

Optional DKIM: `signer.sign(bytes)` returns the message with its signature added.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Protocol

from dispatch.config import Settings
from dispatch.delivery.base import Envelope, Outcome, OutgoingMessage, SendResult
from dispatch.delivery.smtp_pool import (
    ConnectError,
    ConnectionPool,
    SmtpServerConfig,
    reply_text,
)

NOT_ACCEPTED = 421  # "service not available, closing channel": nothing was accepted
MAILBOX_GONE = re.compile(r"^5\.1\.\d{1,3}\b")
QUEUE_ID = re.compile(r"queued as ([\w.@<>-]+)", re.IGNORECASE)


class Signer(Protocol):
    """`dispatch.delivery.dkim.DkimSigner`, or anything signing the same way."""

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature header added at the top; ValueError if not."""
        ...


class _Dropped(Exception):
    """The connection went away before the server accepted the message."""


class _NoReply(Exception):
    """No final reply to DATA in time: the server may or may not have accepted it."""


class SmtpSender:
    """Implements `dispatch.delivery.base.Sender` over SMTP."""

    name = "smtp"
    max_batch = 1000

    def __init__(
        self, config: SmtpServerConfig, pool_size: int = 2, signer: Signer | None = None
    ) -> None:
        self.config = config
        self.signer = signer
        self.pool = ConnectionPool(config)
        self.workers = pool_size  # messages in flight at once, one connection each
        self._workers = ThreadPoolExecutor(pool_size, thread_name_prefix="dispatch-smtp")

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

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        state = _Batch()
        futures = [self._workers.submit(self._deliver, message, e, state) for e in batch]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:  # the caller stopped early: send nothing more of this batch
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self._workers.shutdown(wait=True, cancel_futures=True)
        self.pool.close()
        close_signer = getattr(self.signer, "close", None)  # a signer with processes
        if close_signer is not None:
            close_signer()

    def _deliver(self, message: OutgoingMessage, envelope: Envelope, batch: _Batch) -> SendResult:
        data = message.as_bytes(envelope)
        if self.signer is not None:
            try:
                data = self.signer.sign(data)
            except ValueError as exc:  # the key or the message: nothing was sent
                return _result(envelope, Outcome.TEMPORARY, str(exc))
        problem, unreachable = "", False
        for _ in range(2):  # a failed connect or a dropped connection is tried once more
            if batch.unreachable is not None:
                return _result(envelope, Outcome.TEMPORARY, batch.unreachable)
            try:
                connection = self.pool.acquire()
            except ConnectError as exc:
                problem, unreachable = str(exc), True
                continue
            try:
                mail_from = envelope.return_path or message.from_email
                result, reusable = _transact(connection, mail_from, envelope, data)
            except _Dropped as exc:
                self.pool.discard(connection)
                problem, unreachable = f"{self.config.where}: connection lost: {exc}", False
                continue
            except BaseException:
                self.pool.discard(connection)
                raise
            (self.pool.release if reusable else self.pool.discard)(connection)
            return result
        if unreachable:  # twice in a row: the rest of the batch fails at once
            batch.unreachable = problem
        return _result(envelope, Outcome.TEMPORARY, problem)


class _Batch:
    """What the workers sending one batch share."""

    def __init__(self) -> None:
        self.unreachable: str | None = None  # set: no connection can be had; stop trying


def _transact(
    connection: smtplib.SMTP, mail_from: str, envelope: Envelope, data: bytes
) -> tuple[SendResult, bool]:
    """One MAIL/RCPT/DATA transaction → (result, whether the connection can be reused)."""
    code, reply = _reply(lambda: connection.mail(mail_from))
    if code != 250:
        error = f"MAIL FROM <{mail_from}> refused: {code} {reply}"
        return _result(envelope, Outcome.TEMPORARY, error), _reset(connection)
    code, reply = _reply(lambda: connection.rcpt(envelope.recipient.email))
    if code not in (250, 251):
        return _refused(envelope, code, reply, rcpt=True), _reset(connection)
    try:
        code, reply = _reply(lambda: connection.data(data), data_stage=True)
    except _NoReply as exc:
        return _result(envelope, Outcome.TEMPORARY, f"no reply to DATA: {exc}"), False
    if code != 250:
        return _refused(envelope, code, reply, rcpt=False), _reset(connection)
    found = QUEUE_ID.search(reply)
    accepted = SendResult(
        envelope.delivery_id,
        Outcome.SENT,
        provider_message_id=found.group(1) if found else envelope.message_id,
    )
    return accepted, True


def _reply(command: Callable[[], tuple[int, bytes]], data_stage: bool = False) -> tuple[int, str]:
    """Run one SMTP command → (code, reply text); `_Dropped` if the server did not take it."""
    raw: bytes | str
    try:
        code, raw = command()
    except smtplib.SMTPDataError as exc:  # DATA refused before the message was sent
        code, raw = exc.smtp_code, exc.smtp_error
    except smtplib.SMTPServerDisconnected as exc:
        if data_stage and isinstance(exc.__context__, TimeoutError):
            raise _NoReply(str(exc)) from exc
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
    bare = rcpt and code in (550, 551, 553) and not re.match(r"^\d\.\d{1,3}\.\d{1,3}\b", reply)
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
