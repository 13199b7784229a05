from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import write_config
from dispatch import config
from dispatch.delivery.base import Envelope
from dispatch.delivery.dkim import DkimSigner, from_settings
from dispatch.delivery.message import CampaignMessage, ListIdentity
from dispatch.delivery.mime import ListHeaders, Mailbox, build_message
from dispatch.errors import ConfigError
from dispatch.render.prepared import PreparedEmail, Recipient
from dispatch.render.slots import SlotRegistry

UNSUBSCRIBE = "https://news.example/unsubscribe/WzQyLCJtb3JuaW5nIl0.sig"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, form: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


def dns_for(key: rsa.RSAPrivateKey, name: str) -> Callable[..., bytes | None]:
    """A resolver that knows one DKIM record: `name` → the test key's public half."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

    def lookup(query: bytes | str, timeout: float = 5) -> bytes | None:
        asked = query.decode() if isinstance(query, bytes) else query
        return record if asked.rstrip(".") == name else None

    return lookup


def message() -> bytes:
    return build_message(
        sender=Mailbox("briefing@news.example", "The Dispatch"),
        to=Mailbox("zoe@example.com", "Zoë Ångström"),
        subject="Morning Briefing: the harbour vote",
        html="<p>Hello</p>",
        text="Hello",
        headers=ListHeaders(
            "morning-briefing", "Morning Briefing", "https://news.example", UNSUBSCRIBE
        ),
        date=datetime(2026, 7, 4, 7, 0, tzinfo=UTC),
        message_id="<c1.1@news.example>",
    ).as_bytes()


def tags(signed: bytes) -> dict[str, str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    value = "".join(line.strip() for line in header[: _signature_lines(header)])
    value = value.removeprefix("DKIM-Signature:")
    pairs = (part.split("=", 1) for part in value.split(";") if part.strip())
    return {name.strip(): "".join(tag.split()) for name, tag in pairs}  # unfolded


def _signature_lines(lines: list[str]) -> int:
    count = 1
    while lines[count].startswith((" ", "\t")):
        count += 1
    return count


@pytest.mark.parametrize(
    "form", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
def test_signature_verifies_and_covers_the_unsubscribe_headers(
    key: rsa.RSAPrivateKey, form: serialization.PrivateFormat
) -> None:
    signer = DkimSigner("news.example", "dispatch", pem(key, form))
    raw = message()
    signed = signer.sign(raw)
    assert signed.startswith(b"DKIM-Signature:") and signed.endswith(raw)
    found = tags(signed)
    assert found["a"] == "rsa-sha256" and found["c"] == "relaxed/relaxed"
    assert found["d"] == "news.example" and found["s"] == "dispatch"
    signed_headers = found["h"].split(":")
    for name in ("from", "to", "subject", "date", "message-id", "list-id"):
        assert name in signed_headers
    assert "list-unsubscribe" in signed_headers and "list-unsubscribe-post" in signed_headers
    assert dkim.verify(signed, dnsfunc=dns_for(key, signer.dns_name))


def test_tampering_breaks_the_signature(key: rsa.RSAPrivateKey) -> None:
    signer = DkimSigner("news.example", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))
    signed = signer.sign(message())
    lookup = dns_for(key, "dispatch._domainkey.news.example")
    tampered_link = signed.replace(UNSUBSCRIBE.encode(), b"https://evil.example/unsubscribe")
    assert tampered_link != signed and not dkim.verify(tampered_link, dnsfunc=lookup)
    one_click = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    assert not dkim.verify(signed.replace(one_click, one_click + b"x"), dnsfunc=lookup)
    assert not dkim.verify(signed.replace(b"Hello", b"Hullo"), dnsfunc=lookup)
    added = signed.replace(b"\r\n\r\n", b"\r\nReply-To: evil@evil.example\r\n\r\n", 1)
    assert not dkim.verify(added, dnsfunc=lookup)  # absent headers were signed as absent
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not dkim.verify(signed, dnsfunc=dns_for(other_key, signer.dns_name))


def test_bad_keys_are_refused(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="PEM private key"):
        DkimSigner("news.example", "dispatch", b"not a key")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA key"):
        DkimSigner("news.example", "dispatch", ec_pem)
    with pytest.raises(ValueError, match="domain and a selector"):
        DkimSigner("", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))


def settings_with_dkim(tmp_path: Path, key_file: Path | None) -> config.Settings:
    replace = {}
    if key_file is not None:
        replace = {
            r"^# domain = \"dispatch.example\".*$": 'domain = "news.example"',
            r"^# private_key_file = .*$": f'private_key_file = "{key_file}"',
        }
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", replace))


def test_from_settings(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    assert from_settings(settings_with_dkim(tmp_path, None)) is None
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
    signer = from_settings(settings_with_dkim(tmp_path, key_file))
    assert signer is not None and signer.dns_name == "dispatch._domainkey.news.example"
    assert dkim.verify(signer.sign(message()), dnsfunc=dns_for(key, signer.dns_name))


def test_from_settings_names_an_unreadable_or_invalid_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match=r"delivery.dkim.private_key_file: cannot read .*missing"):
        from_settings(settings_with_dkim(tmp_path, missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=r"garbage.pem: not an unencrypted PEM private key"):
        from_settings(settings_with_dkim(tmp_path, garbage))


def test_fast_path_messages_verify_once_signed(key: rsa.RSAPrivateKey) -> None:
    registry = SlotRegistry()
    link = registry.token(("url", "unsubscribe"))
    html = f'<p>Café — <a href="{link}">unsubscribe</a></p>\n' * 40
    text = f"Café — unsubscribe: {link}\n" * 40
    prepared = PreparedEmail.build("digest", "Café: news", "", html, text, registry)
    identity = ListIdentity("morning-briefing", "Morning Briefing", "https://news.example")
    campaign = CampaignMessage(
        prepared, Mailbox("briefing@news.example"), identity, datetime(2026, 7, 4, tzinfo=UTC)
    )
    recipient = Recipient("zoe@example.com", "Zoë", unsubscribe_url=UNSUBSCRIBE)
    raw = campaign.as_bytes(Envelope(1, 1, recipient, "<c1.1@news.example>"))
    signer = DkimSigner("news.example", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))
    assert dkim.verify(signer.sign(raw), dnsfunc=dns_for(key, signer.dns_name))
