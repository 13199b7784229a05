"""Does a domain's SPF record (RFC 7208) allow an IP address? Enough of SPF for the
doctor: `ip4`, `ip6`, `a`, `mx`, `include`, `redirect` and `all`, with the 10-lookup
limit. (pyspf, the usual library, asks DNS through a module-global function with a
dnspython API that dnspython 2 deprecates, so it cannot be pointed at `[doctor]
nameserver`.) Macros and `exists`/`ptr` are not evaluated: a record that needs them
gives "neutral", never a false "pass".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dispatch.doctor.dns import Dns

MAX_LOOKUPS = 10
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


@dataclass
class _Walk:
    dns: Dns
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    lookups: int = 0
    seen: set[str] = field(default_factory=set)


def spf_record(dns: Dns, domain: str) -> str | None:
    records = [r for r in dns.txt(domain) if r.lower().startswith("v=spf1")]
    return records[0] if len(records) == 1 else None


def check_host(dns: Dns, ip: str, domain: str) -> str:
    """ "pass", "fail", "softfail", "neutral", "none" or "permerror"."""
    return _evaluate(_Walk(dns, ipaddress.ip_address(ip)), domain)


def _evaluate(walk: _Walk, domain: str) -> str:
    if domain in walk.seen:
        return "permerror"
    walk.seen.add(domain)
    record = spf_record(walk.dns, domain)
    if record is None:
        return "none"
    redirect = None
    for term in record.split()[1:]:
        if term.lower().startswith("redirect="):
            redirect = term.split("=", 1)[1]
            continue
        qualifier = QUALIFIERS.get(term[0], "pass")
        mechanism = term[1:] if term[0] in QUALIFIERS else term
        matched = _matches(walk, mechanism, domain)
        if matched is None:
            return "permerror" if walk.lookups > MAX_LOOKUPS else "neutral"
        if matched:
            return qualifier
    if redirect:
        walk.lookups += 1
        return _evaluate(walk, redirect)
    return "neutral"


def _matches(walk: _Walk, mechanism: str, domain: str) -> bool | None:
    """True/False, or None when it cannot be decided here."""
    name, _, value = mechanism.partition(":")
    name, _, cidr = name.partition("/")
    name = name.lower()
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        try:
            return walk.ip in ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
    walk.lookups += 1
    if walk.lookups > MAX_LOOKUPS:
        return None
    target = value.split("/")[0] or domain
    if name == "include":
        return _evaluate(walk, target) == "pass"
    if name == "a":
        return _in(walk.ip, walk.dns.addresses(target), cidr)
    if name == "mx":
        return any(_in(walk.ip, walk.dns.addresses(host), cidr) for host in walk.dns.mx(target))
    return None  # exists, ptr, macros


def _in(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, found: list[str], cidr: str) -> bool:
    for address in found:
        network = ipaddress.ip_network(
            f"{address}/{cidr}" if cidr.isdigit() else address, strict=False
        )
        if ip in network:
            return True
    return False
