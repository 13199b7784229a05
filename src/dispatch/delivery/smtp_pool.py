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
    """No usable connection. `temporary`: refused, timed out or turned away (421), which
    should pass; otherwise TLS or authentication failed, which needs the settings fixed."""

    def __init__(self, reason: str, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


def tls_context(config: SmtpServerConfig) -> ssl.SSLContext:
    """The context to verify the server with. Made once per pool: loading the system's
    trust store takes tens of milliseconds, too long to pay on every connection."""
    return config.ssl_context or ssl.create_default_context()


def open_connection(
    config: SmtpServerConfig, context: ssl.SSLContext | None = None
) -> smtplib.SMTP:
    """A connected, greeted (and, as configured, encrypted and authenticated) session."""
    context = context or tls_context(config)
    try:
        connection = _connect(config, context)
    except ssl.SSLError as exc:  # implicit TLS: the handshake itself failed
        raise ConnectError(f"SMTP server {config.where}: TLS failed: {exc}", False) from exc
    except smtplib.SMTPConnectError as exc:  # greeted with a refusal: 421 passes, 554 stays
        reason = f"SMTP server {config.where} refused the connection: {_describe(exc)}"
        raise ConnectError(reason, not 500 <= exc.smtp_code < 600) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectError(f"cannot connect to SMTP server {config.where}: {exc}", True) from exc
    try:
        _secure_and_login(connection, config, context)
    except (OSError, smtplib.SMTPException) as exc:
        _close(connection)
        reason = f"SMTP server {config.where}: {_describe(exc)}"
        raise ConnectError(reason, _passing(exc)) from exc
    return connection


def _passing(exc: BaseException) -> bool:
    """Whether a failure after the greeting should pass by itself (a 4xx reply, a dropped
    connection) rather than need the settings fixed (TLS, refused credentials, no AUTH)."""
    if isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected)


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
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
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
        self._context = tls_context(config)
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._lock = threading.Lock()

    def acquire(self, fresh: bool = False) -> smtplib.SMTP:
        """An idle connection, else a new one; `fresh`: always a new one (after a drop,
        the idle ones may be as dead as the one that dropped: the server restarted)."""
        if not fresh:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
        connection = open_connection(self.config, self._context)
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
