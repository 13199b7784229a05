"""A campaign over SMTP with every deliverability header on: VERP return path,
Feedback-ID, List-Id and the one-click pair, signed with RSA and Ed25519 in worker
processes; every message the server received verifies with dkimpy."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conftest import write_config
from dispatch import config
from dispatch.bounces.verp import Verp
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.delivery.dkim_keys import load_key
from dispatch.delivery.factory import make_sender
from dispatch.executor.context import EngineContext
from dispatch.store.database import Database
from dispatch.store.types import utcnow
from support.bounces import BOUNCE_LINES, LIST
from support.campaigns import add_article, add_subscribers, run
from support.smtp_server import SmtpServer


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "dkim-campaign-secret")


def pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_every_message_is_signed_twice_and_verifies(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    rsa_pem = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ed_pem = pem(ed25519.Ed25519PrivateKey.generate())
    (tmp_path / "rsa.pem").write_bytes(rsa_pem)
    ed_file = tmp_path / "ed.pem"
    ed_file.write_bytes(ed_pem)
    records = {
        "dispatch._domainkey.dispatch.example": load_key(rsa_pem, "rsa").dns_record().encode(),
        "dispatch-ed25519._domainkey.dispatch.example": load_key(ed_pem, "ed25519")
        .dns_record()
        .encode(),
    }

    def lookup(name: bytes | str, timeout: float = 5) -> bytes | None:
        return records.get((name.decode() if isinstance(name, bytes) else name).rstrip("."))

    with SmtpServer() as server:
        lines = BOUNCE_LINES | {
            r"^port = 25$": f"port = {server.port}",
            r'^security = "starttls".*$': 'security = "none"',
            r'^# domain = "dispatch.example".*$': 'domain = "dispatch.example"',
            r"^# private_key_file = .*$": f'private_key_file = "{tmp_path / "rsa.pem"}"',
            r"^# ed25519_private_key_file = .*$": f'ed25519_private_key_file = "{ed_file}"',
            r"^processes = 0 .*$": "processes = 2",
        }
        settings = config.load(write_config(tmp_path, database_url, lines))
        people = add_subscribers(db, LIST, 12)
        add_article(db, "harbour-vote")
        with db.session() as session:
            created = create_article(session, settings, "harbour-vote", LIST, utcnow(), Options())
            start_campaign(session, created.campaign, settings, utcnow())
            campaign_id = created.campaign.id
        sender = make_sender(settings, "smtp")
        try:
            progress = run(EngineContext(db, settings), sender, campaign_id)
        finally:
            sender.close()
        assert progress.sent == 12
        assert not [w for w in getattr(sender.signer, "_all", []) if w.process.is_alive()]
        received = list(server.received)
    verp = Verp.from_settings(settings)
    assert verp is not None
    assert sorted(item.rcpt_tos[0] for item in received) == sorted(people)
    for item in received:
        assert verp.verify(item.mail_from) is not None
        message = item.message()
        assert message["Feedback-ID"] == f"{campaign_id}:{LIST}:dispatch"
        assert message["List-Id"] and message["List-Unsubscribe-Post"]
        checker = dkim.DKIM(item.data)
        assert checker.verify(idx=0, dnsfunc=lookup) and checker.verify(idx=1, dnsfunc=lookup)
