"""Amazon SNS message signatures, checked before anything in a message is believed.

The signing certificate is fetched from `SigningCertURL` only when that URL is https,
its host matches `[bounces.ses] certificate_hosts` (SNS's own hosts by default) and it
names a `.pem` file; each certificate is fetched once and cached. The signature is
RSA over the message's canonical "Key\\nValue\\n" string (SHA1 for SignatureVersion 1,
SHA256 for 2), as SNS documents it.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dispatch.errors import DispatchError

_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION,
    "UnsubscribeConfirmation": _CONFIRMATION,
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERTIFICATE = 64 * 1024
MAX_CACHED = 32


class SnsRejected(DispatchError):
    """The message is not a genuine, signed SNS message (or names a foreign URL)."""


class SnsVerifier:
    def __init__(self, hosts: tuple[str, ...], client: httpx.Client) -> None:
        self.hosts = hosts
        self.client = client
        self._certificates: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """An https URL on one of the SNS hosts."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and any(fnmatch.fnmatchcase(host, p) for p in self.hosts)

    def verify(self, message: dict[str, Any]) -> None:
        """Raise SnsRejected unless `message` carries a valid SNS signature."""
        kind = message.get("Type")
        fields = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise SnsRejected(f"not an SNS message type: {str(kind)[:40]!r}")
        algorithm = HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise SnsRejected(
                f"unknown SignatureVersion {str(message.get('SignatureVersion'))[:8]!r}"
            )
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise SnsRejected("the signature is not base64") from None
        key = self.certificate(str(message.get("SigningCertURL", "")))
        try:
            key.verify(signature, _canonical(message, fields), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise SnsRejected("the signature does not match the message") from None

    def certificate(self, url: str) -> rsa.RSAPublicKey:
        if not self.allowed(url) or not urlsplit(url).path.endswith(".pem"):
            raise SnsRejected(f"signing certificate URL {url[:200]!r} is not on an SNS host")
        with self._lock:
            cached = self._certificates.get(url)
        if cached is not None:
            return cached
        key = self._fetch(url)
        with self._lock:
            if len(self._certificates) >= MAX_CACHED:
                self._certificates.pop(next(iter(self._certificates)))
            self._certificates[url] = key
        return key

    def _fetch(self, url: str) -> rsa.RSAPublicKey:
        try:
            response = self.client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise SnsRejected(f"cannot fetch the signing certificate {url}: {exc}") from exc
        if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE:
            raise SnsRejected(f"signing certificate {url}: HTTP {response.status_code}")
        try:
            key = x509.load_pem_x509_certificate(response.content).public_key()
        except ValueError as exc:
            raise SnsRejected(f"signing certificate {url} is not a PEM certificate") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsRejected(f"signing certificate {url} does not hold an RSA key")
        return key


def _canonical(message: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue  # Subject is optional
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")
