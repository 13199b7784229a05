"""`dispatch bounces poll`: bounce and complaint mail read from an IMAP mailbox.

Each message is fetched (at most `max_message_bytes` of it), recorded through the intake
and only then flagged `\\Deleted` (or copied to `move_to` first); the mailbox is
expunged at the end. A message whose report cannot be stored stays for the next poll;
one recorded twice (a crash between recording and deleting) changes nothing the second
time, as events are stored once per report and recipient. Messages that are not
bounces are handled too (logged), so the mailbox does not fill up with them.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field

from dispatch.bounces.intake import BounceIntake
from dispatch.config import BounceImapSettings, Settings
from dispatch.errors import ConfigError, DispatchError
from dispatch.logs import event

log = logging.getLogger(__name__)
BATCH = 500  # messages per poll: a full mailbox drains over a few polls, memory bounded


class ImapError(DispatchError):
    """The mailbox could not be reached, logged into or changed."""


@dataclass
class PollReport:
    found: int = 0
    handled: int = 0
    kept: int = 0  # could not be recorded: left in the mailbox
    kinds: Counter[str] = field(default_factory=Counter)


def poll_mailbox(
    settings: Settings, intake: BounceIntake, ssl_context: ssl.SSLContext | None = None
) -> PollReport:
    section = settings.bounces.imap
    if not section.host or not section.user:
        raise ConfigError(
            f"{settings.path.name}: bounces.imap: set host and user to poll a mailbox"
        )
    password = settings.bounces_imap_password.get_secret_value()
    where = f"{section.host}:{section.port}"
    try:
        connection = _connect(section, ssl_context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"bounces.imap: cannot connect to {where}: {exc}") from exc
    try:
        _login(connection, section.user, password, where)
        return _drain(connection, section, intake, settings.bounces.max_message_bytes)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"bounces.imap: {where}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            connection.logout()


def _connect(section: BounceImapSettings, context: ssl.SSLContext | None) -> imaplib.IMAP4:
    assert section.host is not None
    if section.security == "tls":
        return imaplib.IMAP4_SSL(
            section.host,
            section.port,
            ssl_context=context or ssl.create_default_context(),
            timeout=section.timeout,
        )
    connection = imaplib.IMAP4(section.host, section.port, timeout=section.timeout)
    if section.security == "starttls":
        connection.starttls(context or ssl.create_default_context())
    return connection


def _login(connection: imaplib.IMAP4, user: str, password: str, where: str) -> None:
    try:
        connection.login(user, password)
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"bounces.imap: {where}: login as {user} refused: {exc}") from exc


def _drain(
    connection: imaplib.IMAP4, section: BounceImapSettings, intake: BounceIntake, max_bytes: int
) -> PollReport:
    status, _ = connection.select(_quoted(section.folder))
    if status != "OK":
        raise ImapError(f"bounces.imap: no folder {section.folder!r}")
    _, found = connection.uid("SEARCH", None, "UNDELETED")
    uids = (found[0] or b"").split()[:BATCH]
    report = PollReport(found=len(uids))
    for uid in uids:
        data = _fetch(connection, uid, max_bytes)
        try:
            handled = intake.handle(data)
        except Exception as exc:  # the store: try this message again next time
            log.warning("bounces.imap: message %s kept, not recorded: %s", uid.decode(), exc)
            report.kept += 1
            continue
        _dispose(connection, uid, section.move_to)
        report.handled += 1
        report.kinds[handled.report.kind.value] += 1
    if report.handled:
        connection.expunge()
    event(log, "bounces.polled", found=report.found, handled=report.handled, kept=report.kept)
    return report


def _fetch(connection: imaplib.IMAP4, uid: bytes, max_bytes: int) -> bytes:
    status, data = connection.uid("FETCH", uid, f"(BODY.PEEK[]<0.{max_bytes}>)")
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    raise ImapError(f"bounces.imap: message {uid.decode()} could not be fetched ({status})")


def _dispose(connection: imaplib.IMAP4, uid: bytes, move_to: str | None) -> None:
    if move_to:
        status, _ = connection.uid("COPY", uid, _quoted(move_to))
        if status != "OK":
            raise ImapError(f"bounces.imap: cannot copy to folder {move_to!r} (does it exist?)")
    connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
