"""Opening SMTP connections (plain, STARTTLS or implicit TLS, optional AUTH) and
keeping a few of them open for reuse across messages and batches.

Every connection has a timeout on every socket operation. The pool never holds more
than `size` connections: the SMTP sender runs exactly `size` worker threads, each of
which takes a connection (an idle one, or a new one) and gives it back after the message.
"""

from __future__ import annotations

import contextlib
import queue
import smtplib
import ssl
import threading
from dataclasses import dataclass
from typing import Literal

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class SmtpServerConfig:
    """Where and how to connect; `ssl_context` overrides the system trust store (tests)."""

    host: str = "127.0.0.1"
    port: int = 25
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    local_hostname: str | None = None  # EHLO name; smtplib uses the machine's FQDN

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class ConnectError(Exception):
    """No usable connection: refused, timed out, TLS or authentication failed."""


def open_connection(config: SmtpServerConfig) -> smtplib.SMTP:
    """A connected, greeted (and, as configured, encrypted and authenticated) session."""
    context = config.ssl_context or ssl.create_default_context()
    try:
        connection = _connect(config, context)
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectError(f"cannot connect to SMTP server {config.where}: {exc}") from exc
    try:
        _secure_and_login(connection, config, context)
    except (OSError, smtplib.SMTPException) as exc:
        _close(connection)
        raise ConnectError(f"SMTP server {config.where}: {_describe(exc)}") from exc
    return connection


def _connect(config: SmtpServerConfig, context: ssl.SSLContext) -> smtplib.SMTP:
    if config.security == "tls":
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            local_hostname=config.local_hostname,
            timeout=config.timeout,
            context=context,
        )
    return smtplib.SMTP(
        config.host, config.port, local_hostname=config.local_hostname, timeout=config.timeout
    )


def _secure_and_login(
    connection: smtplib.SMTP, config: SmtpServerConfig, context: ssl.SSLContext
) -> None:
    connection.ehlo()
    if config.security == "starttls":
        connection.starttls(context=context)
        connection.ehlo()
    if config.username:
        connection.login(config.username, config.password or "")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"authentication failed: {exc.smtp_code} {reply_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"not supported by the server: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {reply_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _close(connection: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        connection.close()


class ConnectionPool:
    """Reused connections: `acquire()` an idle one or open one; `release` or `discard` it."""

    def __init__(self, config: SmtpServerConfig) -> None:
        self.config = config
        self.opened = 0  # connections opened so far (reuse keeps this small)
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._lock = threading.Lock()

    def acquire(self) -> smtplib.SMTP:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        connection = open_connection(self.config)
        with self._lock:
            self.opened += 1
        return connection

    def release(self, connection: smtplib.SMTP) -> None:
        self._idle.put(connection)

    def discard(self, connection: smtplib.SMTP) -> None:
        _close(connection)

    def close(self) -> None:
        """Say QUIT on every idle connection."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                _close(connection)
