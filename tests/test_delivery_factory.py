"""`make_sender`: the configured backend, with the concurrency the settings give it (the
send rate is the engine's `Pacer`, so no sender is wrapped in a throttle any more)."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.delivery.base import Outcome, Sender, admit_all
from dispatch.delivery.factory import make_sender
from dispatch.delivery.memory import MemorySender
from dispatch.delivery.outbox import OutboxSender
from dispatch.delivery.sendgrid import SendgridSender
from dispatch.delivery.smtp import SmtpSender
from dispatch.errors import ConfigError
from support.outgoing import campaign_message, envelopes
from support.smtp_server import SmtpServer


@pytest.fixture(autouse=True)
def no_secrets_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SENDGRID_API_KEY", "DISPATCH_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def load(tmp_path: Path, **lines: str) -> Settings:
    """The default config with lines replaced: `pattern=line`, pattern a regex."""
    replace = {rf"^{key}.*$": line for key, line in lines.items()}
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path}/d.db", replace))


def lines(**changes: str) -> dict[str, str]:
    """`backend='"smtp"'` → {"backend = ": 'backend = "smtp"'}."""
    return {f"{key} = ": f"{key} = {value}" for key, value in changes.items()}


def test_default_is_the_outbox_under_the_config_folder(tmp_path: Path) -> None:
    sender = make_sender(load(tmp_path))
    assert isinstance(sender, OutboxSender) and isinstance(sender, Sender)
    assert sender.directory == tmp_path / "var" / "outbox"
    assert (sender.unit, sender.concurrency) == (1, 2)
    [result] = sender.deliver(campaign_message(), envelopes(1), admit_all)
    assert result.outcome is Outcome.SENT
    assert (tmp_path / "var" / "outbox" / "7" / "1.eml").is_file()


def test_rate_limits_do_not_wrap_the_sender(tmp_path: Path) -> None:
    settings = load(tmp_path, **lines(rate_per_second="20", hourly_limit="5000"))
    sender = make_sender(settings)
    assert type(sender) is OutboxSender  # the engine paces, through `Pacer`
    assert sender.name == "outbox"


@pytest.mark.parametrize("backend", ["outbox", "sendgrid"])
def test_concurrency_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-env")
    sender = make_sender(load(tmp_path, **lines(backend=f'"{backend}"', concurrency="7")))
    assert sender.concurrency == 7


@pytest.mark.parametrize(("pool_size", "concurrency", "expected"), [(4, 3, 3), (2, 8, 2)])
def test_smtp_concurrency_is_capped_by_the_pool(
    tmp_path: Path, pool_size: int, concurrency: int, expected: int
) -> None:
    settings = load(
        tmp_path,
        **lines(backend='"smtp"', pool_size=str(pool_size), concurrency=str(concurrency)),
    )
    sender = make_sender(settings)
    assert isinstance(sender, SmtpSender)
    assert (sender.unit, sender.concurrency) == (1, expected)
    sender.close()


def test_smtp_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SMTP_PASSWORD", "s3cret")
    settings = load(
        tmp_path,
        **lines(backend='"smtp"', port="2525", security='"tls"', timeout="12.5"),
        **{
            "# username = ": 'username = "mailer"',
            r'host = "127\.0\.0\.1"(?=.*\nport = \d+\nsecurity)': 'host = "mail.example"',
        },
    )
    sender = make_sender(settings)
    assert isinstance(sender, SmtpSender)
    smtp = sender.config
    assert (smtp.host, smtp.port, smtp.security, smtp.timeout) == (
        "mail.example",
        2525,
        "tls",
        12.5,
    )
    assert (smtp.username, smtp.password) == ("mailer", "s3cret")
    assert sender.signer is None
    sender.close()


def test_sendgrid_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-env")
    settings = load(
        tmp_path,
        **lines(backend='"sendgrid"'),
        **{'host = "https://api': 'host = "http://127.0.0.1:9"'},
    )
    sender = make_sender(settings)
    assert isinstance(sender, SendgridSender)
    assert sender.host == "http://127.0.0.1:9"
    assert sender.unit == 1000  # one request carries up to 1000 personalizations
    assert sender.timeout > 0


def test_sendgrid_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "sendgrid.key").write_text("SG.from-file\n")
    settings = load(
        tmp_path,
        **lines(backend='"sendgrid"'),
        **{"# api_key_file = ": 'api_key_file = "sendgrid.key"'},
    )
    assert isinstance(make_sender(settings), SendgridSender)
    assert settings.sendgrid_api_key.get_secret_value() == "SG.from-file"


def test_sendgrid_without_a_key_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        make_sender(load(tmp_path, **lines(backend='"sendgrid"')))


def test_memory_on_request_and_unknown_backends_refused(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert isinstance(make_sender(settings, "memory"), MemorySender)
    with pytest.raises(ConfigError, match='no backend "carrier-pigeon"'):
        make_sender(settings, "carrier-pigeon")


def test_smtp_with_dkim_signs_every_message_verifiably(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    with SmtpServer() as server:
        settings = load(
            tmp_path,
            **lines(backend='"smtp"', port=str(server.port), security='"none"'),
            **lines(pool_size="4", concurrency="3"),
            **{
                "# domain = ": 'domain = "news.example"',
                "# private_key_file = ": 'private_key_file = "dkim.pem"',
            },
        )
        sender = make_sender(settings)
        assert isinstance(sender, SmtpSender)
        message = campaign_message()
        results = [r for e in envelopes(3) for r in sender.deliver(message, [e], admit_all)]
        sender.close()
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert sender.concurrency == 3  # concurrency caps the pool
    assert len(server.received) == 3
    for item in server.received:
        assert item.data.startswith(b"DKIM-Signature:")
        assert b"list-unsubscribe" in item.data.split(b"\r\n\r\n")[0].lower()

        def dns(name: bytes, timeout: int = 5) -> bytes:
            assert name == b"dispatch._domainkey.news.example."
            return record

        assert dkim.verify(item.data, dnsfunc=dns)
