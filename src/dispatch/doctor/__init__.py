"""`dispatch doctor`: what a bulk sender needs, checked, with how to fix each item.

`diagnose(settings)` runs every check in `checks` (DNS through `dns.Dns`, the system
resolver or `[doctor] nameserver`); `Diagnosis.blocking` is True when something makes
the big mailbox providers reject the mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.config import Settings
from dispatch.doctor.checks import Check, Status, run_checks
from dispatch.doctor.dns import Dns


@dataclass(frozen=True)
class Diagnosis:
    checks: list[Check]

    @property
    def blocking(self) -> bool:
        return any(check.status is Status.FAIL for check in self.checks)

    def count(self, status: Status) -> int:
        return sum(check.status == status for check in self.checks)


def diagnose(settings: Settings, resolver: Dns | None = None) -> Diagnosis:
    return Diagnosis(run_checks(settings, resolver or Dns(settings.doctor)))


__all__ = ["Check", "Diagnosis", "Status", "diagnose"]
