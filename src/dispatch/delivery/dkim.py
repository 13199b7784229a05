"""DKIM signatures (RFC 6376) for mail sent over SMTP, at the speed of a campaign.

`DkimSigner.sign(message) -> message` prepends one `DKIM-Signature` per key: RSA-SHA256,
and optionally Ed25519-SHA256 beside it (RFC 8463; receivers that do not know it ignore
it). Both are relaxed/relaxed and cover the headers in `SIGNED_HEADERS`, each listed once
per instance plus once more ("over-signing"), so that From, To, Subject, List-Id, the
RFC 8058 one-click pair or Feedback-ID cannot be added or doubled in transit, and absent
ones cannot be added at all.

Canonicalisation is `dkim_canon` (dkimpy's rules, written to be fast); the private-key
operation is `cryptography`'s, which releases the GIL, so the SMTP sender's worker
threads sign on every core. dkimpy verifies what this signs (tests and benchmarks).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dispatch.config import Settings
from dispatch.delivery.dkim_canon import (
    MessageFormatError,
    hashed_headers,
    relaxed_body,
    relaxed_header,
    signed_names,
    split_message,
)
from dispatch.delivery.dkim_keys import SigningKey, load_key
from dispatch.errors import ConfigError

if TYPE_CHECKING:
    from dispatch.delivery.dkim_processes import ProcessSigner

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"mime-version",
    b"content-type",
)
MAX_LINE = 76  # folded signature lines stay readable and far under 998


@dataclass(frozen=True)
class Selector:
    """One key published at `<selector>._domainkey.<domain>`."""

    selector: str
    key: SigningKey


class DkimSigner:
    """Signs complete messages for one domain with one or two keys."""

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key_pem: bytes | str,
        *,
        ed25519: tuple[str, bytes | str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain = domain.strip().lower()
        if not self.domain or not selector.strip():
            raise ValueError("DKIM needs a domain and a selector")
        self.selectors = [Selector(selector.strip(), load_key(private_key_pem, "rsa"))]
        if ed25519 is not None:
            self.selectors.append(Selector(ed25519[0].strip(), load_key(ed25519[1], "ed25519")))
        self.clock = clock

    @property
    def selector(self) -> str:
        return self.selectors[0].selector

    @property
    def dns_name(self) -> str:
        """Where the (first) public key must be published (a TXT record)."""
        return self.dns_names()[0]

    def dns_names(self) -> list[str]:
        return [f"{s.selector}._domainkey.{self.domain}" for s in self.selectors]

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line endings) with its DKIM-Signature headers in front."""
        return self.signature_headers(message) + message

    def signature_headers(self, message: bytes) -> bytes:
        """The DKIM-Signature header lines for `message` (RSA first: every verifier reads
        it); ValueError when the message cannot be signed."""
        try:
            headers, body = split_message(message)
        except MessageFormatError as exc:
            raise ValueError(f"DKIM signing for {self.domain} failed: {exc}") from exc
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        names = signed_names(headers, SIGNED_HEADERS)
        signed = hashed_headers(headers, names)
        stamp = str(int(self.clock())).encode("ascii")
        fields = [self._header(s, names, body_hash, stamp, signed) for s in self.selectors]
        return b"".join(fields)

    def _header(
        self, chosen: Selector, names: Sequence[bytes], body_hash: bytes, stamp: bytes, data: bytes
    ) -> bytes:
        tags = [
            b"v=1",
            b"a=" + chosen.key.algorithm,
            b"c=relaxed/relaxed",
            b"d=" + self.domain.encode("ascii"),
            b"s=" + chosen.selector.encode("ascii"),
            b"t=" + stamp,
            b"h=" + b":".join(names),
            b"bh=" + body_hash,
        ]
        unsigned = _fold(b"DKIM-Signature: " + b"; ".join(tags) + b";") + b"\r\n b="
        name, _, value = unsigned.partition(b":")
        digest = hashlib.sha256(data + relaxed_header(name, value)[:-2]).digest()
        signature = base64.b64encode(chosen.key.sign_digest(digest))
        return unsigned + _fold_b64(signature) + b"\r\n"


def _fold(line: bytes) -> bytes:
    """Fold at spaces and at the colons of `h=` (both are FWS to relaxed readers)."""
    out, current = [], b""
    for word in line.split(b" "):
        pieces = word.split(b":") if len(word) > MAX_LINE else [word]
        for index, piece in enumerate(pieces):
            piece += b":" if index < len(pieces) - 1 else b""
            glue = b"" if index else b" "
            if current and len(current) + len(glue) + len(piece) > MAX_LINE:
                out.append(current)
                current, glue = b"", b""
            current += (glue if current else b"") + piece
    out.append(current)
    return b"\r\n ".join(out)


def _fold_b64(value: bytes) -> bytes:
    width = MAX_LINE - 3
    return b"\r\n ".join(value[i : i + width] for i in range(0, len(value), width))


def from_settings(settings: Settings, processes: bool = True) -> DkimSigner | ProcessSigner | None:
    """The configured signer, or None when `delivery.dkim.domain` is not set. With
    `delivery.dkim.processes` (and `processes`), it signs in that many worker processes
    and must be closed."""
    section = settings.delivery.dkim
    if not section.domain:
        return None
    rsa_pem = _read(settings, "private_key_file")
    ed25519 = None
    if section.ed25519_private_key_file is not None:
        ed25519 = (section.ed25519_selector, _read(settings, "ed25519_private_key_file"))
    try:
        signer = DkimSigner(section.domain, section.selector, rsa_pem, ed25519=ed25519)
    except ValueError as exc:
        raise ConfigError(f"{settings.path.name}: delivery.dkim: {exc}") from exc
    if not processes or not section.processes:
        return signer
    from dispatch.delivery.dkim_processes import ProcessSigner, SignerSpec  # imports this one

    spec = SignerSpec(signer.domain, signer.selector, rsa_pem, ed25519)
    return ProcessSigner(spec, section.processes)


def _read(settings: Settings, key: str) -> bytes:
    where = f"{settings.path.name}: delivery.dkim.{key}"
    path = getattr(settings.delivery.dkim, key)
    if path is None:  # the config model refuses this; kept for a clear message anyway
        raise ConfigError(f"{where} is required when delivery.dkim.domain is set")
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc
    try:
        load_key(pem, "ed25519" if key.startswith("ed25519") else "rsa")
    except ValueError as exc:
        raise ConfigError(f"{where}: {path}: {exc}") from exc
    return pem
