"""`dispatch bounces serve`: campaign mail leaves over SMTP with a VERP return path; DSN
and ARF reports come back over SMTP (and LMTP) and are recorded; anything else is
refused, and a store that cannot be written makes the MTA try again (451)."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.bounces.intake import BounceIntake
from dispatch.bounces.server import BounceController, BounceHandler
from dispatch.bounces.verp import Verp
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.factory import make_sender
from dispatch.events import BounceRules
from dispatch.executor.context import EngineContext
from dispatch.store.database import Database
from dispatch.store.models import Delivery, DeliveryStatus, Event, Suppression
from dispatch.store.types import utcnow
from support.bounces import BOUNCE_LINES, CORPUS, LIST, PLACEHOLDER_ID, PLACEHOLDER_VERP
from support.campaigns import add_article, add_subscribers, run
from support.live_server import free_port
from support.smtp_server import SmtpServer

SECRET = "bounce-server-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def bounce_settings(tmp_path: Path, database_url: str, smtp_port: int, listen: int) -> Settings:
    lines = BOUNCE_LINES | {
        r"^# listen = \"127.0.0.1:2525\".*$": f'listen = "127.0.0.1:{listen}"',
        r"^port = 25$": f"port = {smtp_port}",
        r'^security = "starttls".*$': 'security = "none"',
    }
    return config.load(write_config(tmp_path, database_url, lines))


def launch(settings: Settings, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`dispatch --config … ARGS` as a child process, its output in `log`."""
    env = os.environ | {"DISPATCH_SECRET_KEY": SECRET}
    command = [sys.executable, "-m", "dispatch", "--config", str(settings.path), *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "dispatch bounces serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def filled(name: str, verp: str, message_id: str, recipient: str, reported: str) -> bytes:
    data = (CORPUS / name).read_bytes()
    data = data.replace(PLACEHOLDER_VERP.encode(), verp.encode())
    data = data.replace(PLACEHOLDER_ID.encode(), message_id.encode())
    return crlf(data.replace(reported.encode(), recipient.encode()))


def crlf(data: bytes) -> bytes:
    """As MTAs send it (smtplib sends bytes as they are)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send_over_smtp(db: Database, settings: Settings, people: int) -> int:
    add_subscribers(db, LIST, people)
    add_article(db, "harbour-vote")
    with db.session() as session:
        created = create_article(session, settings, "harbour-vote", LIST, utcnow(), Options())
        start_campaign(session, created.campaign, settings, utcnow())
        campaign_id = created.campaign.id
    sender = make_sender(settings, "smtp")
    try:
        run(EngineContext(db, settings), sender, campaign_id)
    finally:
        sender.close()
    return campaign_id


def test_reports_over_smtp_to_dispatch_bounces_serve(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    listen = free_port()
    with SmtpServer() as mta:
        settings = bounce_settings(tmp_path, database_url, mta.port, listen)
        send_over_smtp(db, settings, 3)
        received = {item.rcpt_tos[0]: item for item in mta.received}
    assert len(received) == 3
    for address, item in received.items():  # MAIL FROM is each delivery's own VERP address
        assert Verp.from_settings(settings).verify(item.mail_from) is not None  # type: ignore[union-attr]
        assert f"<{address}>" in item.message()["To"]
    hard, complainer, _ = sorted(received)

    log = tmp_path / "bounces.log"
    process = launch(settings, ["bounces", "serve"], log)
    try:
        wait_listening(listen, process)
        with smtplib.SMTP("127.0.0.1", listen, timeout=20) as client:
            client.ehlo("mx.test")
            client.mail("<>")
            code, reply = client.rcpt("bounces+1.1.aaaaaaaaaaaaaaaa@bounces.dispatch.example")
            assert code == 550, reply
            code, _ = client.rcpt("postmaster@bounces.dispatch.example")
            assert code == 550
            client.rset()
            item = received[hard]
            message = item.message()
            dsn = filled(
                "gmail-hard.eml",
                item.mail_from,
                message["Message-ID"],
                hard,
                "nobody.here@gmail.com",
            )
            refused = client.sendmail("", [item.mail_from], dsn)
            assert refused == {}
            item = received[complainer]
            arf = filled(
                "arf-complaint.eml",
                item.mail_from,
                item.message()["Message-ID"],
                complainer,
                "angry.reader@mailbox.example",
            )
            assert client.sendmail("", [item.mail_from], arf) == {}
    finally:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    with db.session() as session:
        status = {row.email: row.status for row in session.scalars(select(Delivery))}
        kept = {row.email: row.reason for row in session.scalars(select(Suppression))}
        stored = [
            (row.type, row.email) for row in session.scalars(select(Event).order_by(Event.id))
        ]
    assert status[hard] is DeliveryStatus.BOUNCED
    assert kept == {hard: "hard", complainer: "complaint"}
    assert stored == [("bounced", hard), ("complained", complainer)]
    assert "Receiving bounces (SMTP)" in log.read_text()


def in_process(settings: Settings, database: Database, lmtp: bool, port: int) -> BounceController:
    intake = BounceIntake(database, Verp.from_settings(settings), BounceRules())
    controller = BounceController(BounceHandler(intake, lmtp=lmtp), "127.0.0.1", port, 10_000)
    controller.start()
    return controller


def test_lmtp_answers_each_recipient(tmp_path: Path, database_url: str, db: Database) -> None:
    port = free_port()
    settings = bounce_settings(tmp_path, database_url, 25, port)
    verp = Verp.from_settings(settings)
    assert verp is not None
    address = verp.address(1, 1)  # no such delivery: recorded as unmatched
    controller = in_process(settings, db, True, port)
    try:
        client = smtplib.LMTP("127.0.0.1", port)
        try:
            assert (
                client.sendmail("", [address], crlf((CORPUS / "postfix-hard.eml").read_bytes()))
                == {}
            )
            too_big = b"Subject: x\r\n\r\n" + b"y" * 20_000
            with pytest.raises(smtplib.SMTPException):
                client.sendmail("", [address], too_big)
        finally:
            client.close()
    finally:
        controller.stop()
    with db.session() as session:
        assert [row.type for row in session.scalars(select(Event))] == ["unmatched"]
        assert session.scalars(select(Suppression)).all() == []


def test_a_store_that_cannot_be_written_answers_451(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    settings = bounce_settings(tmp_path, database_url, 25, port)
    unmigrated = Database(config.DatabaseSettings(url=f"sqlite:///{tmp_path / 'empty.db'}"))
    verp = Verp.from_settings(settings)
    assert verp is not None
    controller = in_process(settings, unmigrated, False, port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail(
                    "", [verp.address(1, 1)], crlf((CORPUS / "gmail-hard.eml").read_bytes())
                )
            assert refused.value.smtp_code == 451
    finally:
        controller.stop()
        unmigrated.dispose()


def test_dispatch_serve_receives_bounces_too(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    listen, web = free_port(), free_port()
    settings = bounce_settings(tmp_path, database_url, 25, listen)
    verp = Verp.from_settings(settings)
    assert verp is not None
    log = tmp_path / "serve.log"
    process = launch(settings, ["serve", "--no-scheduler", "--port", str(web)], log)
    try:
        wait_listening(listen, process)
        with smtplib.SMTP("127.0.0.1", listen, timeout=20) as client:
            client.ehlo("mx.test")
            client.mail("<>")
            assert client.rcpt("someone@bounces.dispatch.example")[0] == 550
            assert client.rcpt(verp.address(1, 1))[0] == 250
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert "Bounces: receiving at 127.0.0.1:" in log.read_text()
