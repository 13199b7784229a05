from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_over_signing_stops_added_headers(key: rsa.RSAPrivateKey) -> None:
    signer = DkimSigner("news.example", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))
    signed = signer.sign(message())
    names = tags(signed)["h"].split(":")
    for name in ("from", "to", "subject", "list-id", "list-unsubscribe", "list-unsubscribe-post"):
        assert names.count(name) == 2, name  # present once, signed twice
    assert names.count("feedback-id") == 1 and names.count("reply-to") == 1  # absent ones
    lookup = dns_for(key, signer.dns_name)
    head, body = signed.split(b"\r\n\r\n", 1)
    for extra in (
        b"From: Evil <evil@evil.example>",
        b"Subject: Urgent: verify your account",
        b"List-Id: <other.evil.example>",
        b"List-Unsubscribe: <https://evil.example/u>",
        b"Feedback-ID: 1:2:3:evilsender",
    ):
        assert dkim.verify(signed, dnsfunc=lookup)
        assert not dkim.verify(head + b"\r\n" + extra + b"\r\n\r\n" + body, dnsfunc=lookup), extra


def ed25519_pem() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return pem(private, serialization.PrivateFormat.PKCS8), b"v=DKIM1; k=ed25519; p=" + (
        base64.b64encode(raw)
    )


def test_dual_signatures_both_verify_with_dkimpy(key: rsa.RSAPrivateKey) -> None:
    ed_pem, ed_record = ed25519_pem()
    signer = DkimSigner(
        "news.example",
        "dispatch",
        pem(key, serialization.PrivateFormat.PKCS8),
        ed25519=("ed", ed_pem),
    )
    rsa_lookup = dns_for(key, "dispatch._domainkey.news.example")

    def lookup(query: bytes | str, timeout: float = 5) -> bytes | None:
        asked = (query.decode() if isinstance(query, bytes) else query).rstrip(".")
        return ed_record if asked == "ed._domainkey.news.example" else rsa_lookup(query)

    signed = signer.sign(message())
    assert signed.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in signed.split(b"DKIM-Signature:")[1]  # RSA first
    assert b"a=ed25519-sha256" in signed.split(b"DKIM-Signature:")[2]
    checker = dkim.DKIM(signed)
    assert checker.verify(idx=0, dnsfunc=lookup) and checker.verify(idx=1, dnsfunc=lookup)
    assert signer.selectors[1].key.dns_record().encode() == ed_record
    tampered = dkim.DKIM(signed.replace(b"Hello", b"Hullo"))
    try:
        verified = tampered.verify(idx=1, dnsfunc=lookup)
    except dkim.ValidationError:  # dkimpy raises for a body hash mismatch
        verified = False
    assert not verified


def test_an_ed25519_file_must_hold_an_ed25519_key(key: rsa.RSAPrivateKey) -> None:
    rsa_pem = pem(key, serialization.PrivateFormat.PKCS8)
    with pytest.raises(ValueError, match="needs an Ed25519 key"):
        DkimSigner("news.example", "dispatch", rsa_pem, ed25519=("ed", rsa_pem))


def test_the_signer_in_processes_signs_the_same_way(key: rsa.RSAPrivateKey) -> None:
    from dispatch.delivery.dkim_processes import ProcessSigner, SignerSpec

    spec = SignerSpec("news.example", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))
    signer = ProcessSigner(spec, 2)
    try:
        lookup = dns_for(key, "dispatch._domainkey.news.example")
        for _ in range(3):
            assert dkim.verify(signer.sign(message()), dnsfunc=lookup)
        with pytest.raises(ValueError, match="not a header line"):
            signer.sign(b"no headers here\r\n\r\nbody")
        for worker in list(signer._all):  # a worker dies: that message fails, the next works
            worker.process.kill()
            worker.process.join()
        with pytest.raises(ValueError, match="died"):
            signer.sign(message())
        with pytest.raises(ValueError, match="died"):
            signer.sign(message())
        assert dkim.verify(signer.sign(message()), dnsfunc=lookup)
    finally:
        signer.close()
    signer.close()  # twice is fine


blank = st.sampled_from([" ", "\t", "  ", " \t "])
line = st.lists(st.one_of(st.text("abcXYZ=.:;-", min_size=1, max_size=8), blank), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(line.map("".join), max_size=12), st.sampled_from(["", "\r\n", "\r\n\r\n"]))
def test_body_canonicalisation_is_dkimpys(lines: list[str], tail: str) -> None:
    from dkim.canonicalization import Relaxed

    from dispatch.delivery.dkim_canon import relaxed_body

    body = ("\r\n".join(lines) + tail).encode()
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"Subject", b"X-Thing", b"FROM"]),
    st.lists(st.one_of(st.text("ab;=<>@", min_size=1, max_size=6), blank), max_size=6).map("".join),
    st.booleans(),
)
def test_header_canonicalisation_is_dkimpys(name: bytes, value: str, folded: bool) -> None:
    from dkim.canonicalization import Relaxed

    from dispatch.delivery.dkim_canon import relaxed_header

    raw = (" " + value + ("\r\n\t" + value if folded else "")).encode()
    ((got_name, got_value),) = Relaxed.canonicalize_headers([(name, raw + b"\r\n")])
    assert relaxed_header(name, raw) == got_name + b":" + got_value


def test_feedback_id_is_on_both_paths_and_signed(key: rsa.RSAPrivateKey) -> None:
    registry = SlotRegistry()
    link = registry.token(("url", "unsubscribe"))
    prepared = PreparedEmail.build(
        "digest", "News", "", f'<a href="{link}">u</a>', f"u: {link}", registry
    )
    identity = ListIdentity(
        "morning-briefing",
        "Morning Briefing",
        "https://news.example",
        None,
        "{campaign}:morning-briefing:dispatch",
    )
    campaign = CampaignMessage(
        prepared, Mailbox("briefing@news.example"), identity, datetime(2026, 7, 4, tzinfo=UTC)
    )
    envelope = Envelope(
        9,
        42,
        Recipient("zoe@example.com", "Zoë", unsubscribe_url=UNSUBSCRIBE),
        "<k.9@news.example>",
    )
    fast = campaign.as_bytes(envelope)
    slow = campaign.as_email_message(envelope)
    assert slow["Feedback-ID"] == "42:morning-briefing:dispatch"
    assert b"\r\nFeedback-ID: 42:morning-briefing:dispatch\r\n" in fast
    assert campaign.personal_headers(envelope)["Feedback-ID"] == "42:morning-briefing:dispatch"
    signer = DkimSigner("news.example", "dispatch", pem(key, serialization.PrivateFormat.PKCS8))
    signed = signer.sign(fast)
    assert tags(signed)["h"].split(":").count("feedback-id") == 2
    assert dkim.verify(signed, dnsfunc=dns_for(key, signer.dns_name))
