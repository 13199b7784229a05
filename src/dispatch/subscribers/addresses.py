"""Email addresses: validated by email-validator (syntax only, no DNS) and normalised once.

The normal form is email-validator's `.normalized`: surrounding space trimmed, the domain
lower-cased (and IDNA-normalised), the local part kept as written (RFC 5321 lets it be
case-sensitive). Every address Dispatch stores goes through `normalise_address`, so the
unique `subscribers.email` column is case-insensitive on the domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna
from email_validator import EmailNotValidError, validate_email

from dispatch.errors import InvalidAddress


def normalise_address(raw: str) -> str:
    """The stored form of `raw`, or InvalidAddress saying why it is not an address."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("empty email address")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"invalid email address {candidate!r}: {exc}") from exc
    return result.normalized


def lookup_forms(address: str) -> tuple[str, ...]:
    """The spellings to look for in tables written by others (e.g. bounce webhooks)."""
    lowered = address.lower()
    return (address,) if lowered == address else (address, lowered)


def clean_name(raw: str) -> str:
    """A display name with runs of whitespace (CR and LF included) collapsed to one space.

    Names reach the `To:` header, where CR and LF must never appear.
    """
    return " ".join(raw.split())


@dataclass(frozen=True, slots=True)
class WireAddress:
    """A stored address as it goes on the wire: the domain as IDNA 2008 A-labels."""

    address: str
    needs_smtputf8: bool  # the local part is not ASCII (RFC 6531)


def wire_address(email: str) -> WireAddress:
    """The wire form of a stored address; UnicodeError (idna.IDNAError) if the domain
    has no A-label form."""
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        domain = idna.encode(domain, uts46=False).decode("ascii")
    return WireAddress(f"{local}@{domain}", not local.isascii())
