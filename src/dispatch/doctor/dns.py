"""DNS questions `dispatch doctor` asks, through dnspython: the system resolver, or the
server `[doctor] nameserver` names ("IP" or "IP:PORT")."""

from __future__ import annotations

import dns.exception
import dns.resolver

from dispatch.config import DoctorSettings
from dispatch.errors import DispatchError

MISSING = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)


class DnsError(DispatchError):
    """The DNS server did not answer (timeout, refused, broken)."""


def server_address(value: str) -> tuple[str, int]:
    """ "IP", "IP:PORT" or "[IPv6]:PORT" → (IP, port)."""
    if value.startswith("["):
        host, _, port = value[1:].partition("]:")
        return host, int(port or 53)
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, 53


class Dns:
    def __init__(self, settings: DoctorSettings) -> None:
        if settings.nameserver:
            host, port = server_address(settings.nameserver)
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [host]
            self.resolver.port = port
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.lifetime = settings.timeout
        self.resolver.timeout = settings.timeout

    def _ask(self, name: str, kind: str) -> list[object]:
        try:
            return list(self.resolver.resolve(name, kind, search=False))
        except MISSING:
            return []
        except dns.exception.DNSException as exc:
            raise DnsError(f"DNS {kind} {name}: {exc.__class__.__name__}: {exc}") from exc

    def txt(self, name: str) -> list[str]:
        """Each TXT record's strings joined (a DKIM key spans several)."""
        out = []
        for answer in self._ask(name, "TXT"):
            out.append(b"".join(answer.strings).decode("utf-8", "replace"))  # type: ignore[attr-defined]
        return out

    def mx(self, name: str) -> list[str]:
        found = sorted(self._ask(name, "MX"), key=lambda a: a.preference)  # type: ignore[attr-defined]
        return [a.exchange.to_text().rstrip(".") for a in found]  # type: ignore[attr-defined]

    def addresses(self, name: str) -> list[str]:
        return [a.to_text() for kind in ("A", "AAAA") for a in self._ask(name, kind)]
