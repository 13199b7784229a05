"""VERP return paths: `bounces+<campaign>.<delivery>.<mac>@<bounce domain>`.

The envelope sender of each campaign message names its ledger row, signed, so a bounce
sent back to it identifies campaign and recipient without a lookup table and without
trusting anything the bounce says. The MAC is HMAC-SHA256 under a key derived from the
secret key, 80 bits in lower-case base32: MTAs may lower-case a local part, and a
forger would need 2**80 tries per address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from dispatch.config import Settings

MAC_CHARS = 16  # base32 characters: 80 bits
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+$")


@dataclass(frozen=True, slots=True)
class VerpRef:
    """The ledger row a verified VERP address names."""

    campaign_id: int
    delivery_id: int


class Verp:
    """Makes and verifies the VERP addresses of one bounce domain."""

    def __init__(self, secret: str, domain: str, local_part: str = "bounces") -> None:
        self.domain = domain.strip().lower().rstrip(".")
        if not _DOMAIN.match(self.domain):
            raise ValueError(f'"{domain}" is not a domain name for bounces')
        self.local_part = local_part.lower()
        self._key = hmac.new(secret.encode("utf-8"), b"dispatch verp v1", hashlib.sha256).digest()
        self._pattern = re.compile(
            rf"{re.escape(self.local_part)}\+([0-9]{{1,10}})\.([0-9]{{1,10}})\.([a-z2-7]{{{MAC_CHARS}}})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Verp | None:
        """The configured VERP, or None when `bounces.domain` is not set."""
        section = settings.bounces
        if not section.domain:
            return None
        secret = settings.secret_key.get_secret_value()
        return cls(secret, section.domain, section.local_part)

    def address(self, campaign_id: int, delivery_id: int) -> str:
        mac = self._mac(campaign_id, delivery_id)
        return f"{self.local_part}+{campaign_id}.{delivery_id}.{mac}@{self.domain}"

    def verify(self, address: str) -> VerpRef | None:
        """The row `address` names if it is one of ours and its MAC is right, else None."""
        local, at, domain = address.strip().strip("<>").lower().rpartition("@")
        if not at or domain.rstrip(".") != self.domain:
            return None
        found = self._pattern.fullmatch(local)
        if found is None:
            return None
        campaign_id, delivery_id = int(found.group(1)), int(found.group(2))
        expected = self._mac(campaign_id, delivery_id)
        if not hmac.compare_digest(expected, found.group(3)):
            return None
        return VerpRef(campaign_id, delivery_id)

    def _mac(self, campaign_id: int, delivery_id: int) -> str:
        data = f"{campaign_id}.{delivery_id}".encode("ascii")
        digest = hmac.new(self._key, data, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii")[:MAC_CHARS].lower()
