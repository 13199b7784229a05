"""What a doctor's check found: a status, what it saw, and how to fix it."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from dispatch.config import Settings


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def organisational(domain: str) -> str:
    """The registrable domain (DMARC's organisational domain) of `domain`."""
    domain = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(domain) or domain


@functools.cache
def _suffixes() -> PublicSuffixList:
    """The public suffix list shipped with the package, parsed once when first needed."""
    return PublicSuffixList()


def tag(record: str, name: str) -> str | None:
    """The value of tag `name` in a `k=v; k=v` DNS record (DKIM, DMARC)."""
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return "".join(value.split())
    return None


def from_domains(settings: Settings) -> list[str]:
    return [item.from_email.rpartition("@")[2].lower() for item in settings.lists]
