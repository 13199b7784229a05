"""DKIM signatures (RFC 6376) for mail sent over SMTP, with dkimpy.

`DkimSigner.sign(message) -> message` prepends a `DKIM-Signature` header
(rsa-sha256, relaxed/relaxed) covering the headers a reader or a mailbox provider
relies on, the RFC 8058 one-click headers included: a relay that altered the
unsubscribe link would break the signature. Headers in `SIGNED_HEADERS` that a
message lacks are signed as absent, so they cannot be added on the way either.
The key is loaded (PKCS#1 or PKCS#8 PEM, RSA, unencrypted) with `cryptography` and
handed to dkimpy as PKCS#1, the only form it reads.
"""

from __future__ import annotations

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.config import Settings
from dispatch.errors import ConfigError

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
CANONICALIZE = (b"relaxed", b"relaxed")


class DkimSigner:
    """Signs complete messages for one domain and selector."""

    def __init__(self, domain: str, selector: str, private_key_pem: bytes | str) -> None:
        self.domain = domain.strip().lower()
        self.selector = selector.strip()
        if not self.domain or not self.selector:
            raise ValueError("DKIM needs a domain and a selector")
        self._key = _pkcs1(private_key_pem)

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line endings) with a DKIM-Signature header in front."""
        try:
            signature = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self._key,
                canonicalize=CANONICALIZE,
                include_headers=list(SIGNED_HEADERS),
            )
        except dkim.DKIMException as exc:
            raise ValueError(f"DKIM signing for {self.domain} failed: {exc}") from exc
        return signature + message

    @property
    def dns_name(self) -> str:
        """Where the public key must be published (a TXT record)."""
        return f"{self.selector}._domainkey.{self.domain}"


def from_settings(settings: Settings) -> DkimSigner | None:
    """The configured signer, or None when `delivery.dkim.domain` is not set."""
    section = settings.delivery.dkim
    if not section.domain:
        return None
    where = f"{settings.path.name}: delivery.dkim.private_key_file"
    path = section.private_key_file
    if path is None:  # the config model refuses this; kept for a clear message anyway
        raise ConfigError(f"{where} is required when delivery.dkim.domain is set")
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc
    try:
        return DkimSigner(section.domain, section.selector, pem)
    except ValueError as exc:
        raise ConfigError(f"{where}: {path}: {exc}") from exc


def _pkcs1(pem: bytes | str) -> bytes:
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"DKIM rsa-sha256 needs an RSA key, not {type(key).__name__}")
    if key.key_size < 1024:
        raise ValueError(f"a {key.key_size}-bit RSA key is too weak for DKIM (use 2048)")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
