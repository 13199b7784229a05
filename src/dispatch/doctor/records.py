"""The DNS checks of `dispatch doctor`: DKIM keys published as configured, SPF for the
return path covering the sending host, DMARC for each From domain, an MX for bounces."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from dispatch.config import Settings
from dispatch.delivery import dkim
from dispatch.doctor.dns import Dns
from dispatch.doctor.findings import Check, Status, from_domains, organisational, tag
from dispatch.doctor.spf import check_host, spf_record


def dkim_record(settings: Settings, resolver: Dns) -> Iterator[Check]:
    signer = dkim.from_settings(settings, processes=False)
    if not isinstance(signer, dkim.DkimSigner):
        return
    for name, chosen in zip(signer.dns_names(), signer.selectors, strict=True):
        expected = chosen.key.dns_record()
        published = [r for r in resolver.txt(name) if "p=" in r]
        key = tag(expected, "p")
        if any(tag(record, "p") == key for record in published):
            yield Check(f"dkim {name}", Status.OK, "the published key matches the configured one")
            continue
        found = "a different key is published" if published else "no DKIM record"
        yield Check(
            f"dkim {name}",
            Status.FAIL,
            f"{name}: {found}; receivers cannot verify the signatures",
            f'publish TXT {name} "{expected}"',
        )


def spf(settings: Settings, resolver: Dns) -> Iterator[Check]:
    domains = [settings.bounces.domain] if settings.bounces.domain else from_domains(settings)
    for domain in dict.fromkeys(d for d in domains if d):
        record = spf_record(resolver, domain)
        if record is None:
            yield Check(
                f"spf {domain}",
                Status.FAIL,
                f"{domain}: no SPF record (or more than one) for the return path domain",
                f'publish TXT {domain} "v=spf1 ip4:<your sending IP> -all"',
            )
            continue
        yield from _coverage(settings, resolver, domain, record)


def _coverage(settings: Settings, resolver: Dns, domain: str, record: str) -> Iterator[Check]:
    ips = settings.doctor.sending_ips or _relay_addresses(settings, resolver)
    if not ips:
        yield Check(
            f"spf {domain}",
            Status.WARN,
            f"{domain}: SPF record found ({record}); whether it covers your sending host "
            "is unchecked",
            'list the public IPs mail leaves from in [doctor] sending_ips = ["…"]',
        )
        return
    outside = [ip for ip in ips if check_host(resolver, ip, domain) != "pass"]
    if outside:
        yield Check(
            f"spf {domain}",
            Status.FAIL,
            f"{domain}: SPF ({record}) does not allow {', '.join(outside)}",
            f"add ip4:/ip6: mechanisms for {', '.join(outside)} to the SPF record",
        )
        return
    yield Check(f"spf {domain}", Status.OK, f"{domain}: SPF allows {', '.join(ips)}")


def _relay_addresses(settings: Settings, resolver: Dns) -> tuple[str, ...]:
    """The public addresses of `delivery.smtp.host`, when mail goes straight from it."""
    if settings.delivery.backend != "smtp":
        return ()
    host = settings.delivery.smtp.host
    try:
        found = [host] if ipaddress.ip_address(host) else []
    except ValueError:
        found = resolver.addresses(host)
    return tuple(ip for ip in found if ipaddress.ip_address(ip).is_global)


def dmarc(settings: Settings, resolver: Dns) -> Iterator[Check]:
    for domain in dict.fromkeys(from_domains(settings)):
        names = dict.fromkeys([f"_dmarc.{domain}", f"_dmarc.{organisational(domain)}"])
        found = [r for n in names for r in resolver.txt(n) if r.lower().startswith("v=dmarc1")]
        if not found or tag(found[0], "p") is None:
            yield Check(
                f"dmarc {domain}",
                Status.FAIL,
                f"{domain}: no DMARC record; Gmail and Yahoo require one of bulk senders",
                f'publish TXT _dmarc.{organisational(domain)} "v=DMARC1; p=none; rua=mailto:…"',
            )
        else:
            yield Check(f"dmarc {domain}", Status.OK, f"{domain}: {found[0]}")


def bounce_mx(settings: Settings, resolver: Dns) -> Iterator[Check]:
    domain = settings.bounces.domain
    if not domain:
        yield Check(
            "bounces",
            Status.WARN,
            "no bounce domain: bounces go to the From address and nothing reads them",
            'set [bounces] domain = "bounces.<your domain>" and run `dispatch bounces serve`',
        )
        return
    exchanges = resolver.mx(domain)
    if not exchanges:
        yield Check(
            f"mx {domain}",
            Status.FAIL,
            f"{domain}: no MX record, so bounces cannot come back",
            f"publish MX {domain} pointing at the host running `dispatch bounces serve`",
        )
        return
    yield Check(f"mx {domain}", Status.OK, f"{domain}: MX {', '.join(exchanges)}")
