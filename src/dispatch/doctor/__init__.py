"""`dispatch doctor`: what a bulk sender needs, checked, with how to fix each item.

`diagnose(settings)` runs every check in `checks` (configuration) and `records` (DNS
through `dns.Dns`: the system resolver or `[doctor] nameserver`); `Diagnosis.blocking`
is True when something makes the big mailbox providers reject the mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dispatch.config import Settings
from dispatch.doctor import checks, records
from dispatch.doctor.dns import Dns, DnsError
from dispatch.doctor.findings import Check, Status
from dispatch.errors import ConfigError

CHECKS: tuple[Callable[[Settings, Dns], Iterator[Check]], ...] = (
    checks.base_url,
    checks.secret_key,
    checks.postal_address,
    checks.alignment,
    records.dkim_record,
    records.spf,
    records.dmarc,
    records.bounce_mx,
)


@dataclass(frozen=True)
class Diagnosis:
    checks: list[Check]

    @property
    def blocking(self) -> bool:
        return any(check.status is Status.FAIL for check in self.checks)

    def count(self, status: Status) -> int:
        return sum(check.status == status for check in self.checks)


def diagnose(settings: Settings, resolver: Dns | None = None) -> Diagnosis:
    resolver = resolver or Dns(settings.doctor)
    found: list[Check] = []
    for check in CHECKS:
        try:
            found.extend(check(settings, resolver))
        except DnsError as exc:
            found.append(Check(check.__name__, Status.FAIL, str(exc), "check [doctor] nameserver"))
        except ConfigError as exc:
            found.append(Check(check.__name__, Status.FAIL, str(exc), "fix config.toml"))
    return Diagnosis(found)


__all__ = ["Check", "Diagnosis", "Status", "diagnose"]
