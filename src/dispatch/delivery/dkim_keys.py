"""DKIM private keys: loaded once with `cryptography`, able to sign a SHA-256 digest,
and able to say which DNS TXT record publishes their public half.

RSA keys (PKCS#1 or PKCS#8 PEM, unencrypted, 1024 bits or more) sign with
RSASSA-PKCS1-v1_5 over the prehashed digest (rsa-sha256); Ed25519 keys sign the digest
itself (ed25519-sha256, RFC 8463 §3).
"""

from __future__ import annotations

import base64
from typing import Literal, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

Kind = Literal["rsa", "ed25519"]
MIN_RSA_BITS = 1024


class SigningKey(Protocol):
    algorithm: bytes  # the a= tag

    def sign_digest(self, digest: bytes) -> bytes: ...

    def dns_record(self) -> str:
        """The TXT record value receivers look up: `v=DKIM1; k=…; p=…`."""
        ...


class RsaKey:
    algorithm = b"rsa-sha256"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key

    def sign_digest(self, digest: bytes) -> bytes:
        return self.key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    def dns_record(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


class Ed25519Key:
    algorithm = b"ed25519-sha256"

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self.key = key

    def sign_digest(self, digest: bytes) -> bytes:
        return self.key.sign(digest)

    def dns_record(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"


def load_key(pem: bytes | str, kind: Kind) -> SigningKey:
    """The key in `pem`; ValueError naming what is wrong with it."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from exc
    if kind == "ed25519":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"DKIM ed25519-sha256 needs an Ed25519 key, not {_name(key)}")
        return Ed25519Key(key)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"DKIM rsa-sha256 needs an RSA key, not {_name(key)}")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"a {key.key_size}-bit RSA key is too weak for DKIM (use 2048)")
    return RsaKey(key)


def _name(key: object) -> str:
    return type(key).__name__.removeprefix("_")
