"""The checks of `dispatch doctor`, each one a function of the settings (and DNS) that
says what it found and how to fix it. FAIL means the big mailbox providers will
reject or junk the mail (their 2024 bulk-sender rules); WARN means worth fixing."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from dispatch.config import Settings
from dispatch.delivery import dkim
from dispatch.doctor.dns import Dns, DnsError
from dispatch.doctor.spf import check_host, spf_record
from dispatch.errors import ConfigError

WEAK_SECRETS = {"changeme", "change-me", "secret", "dispatch", "default", "password", "test"}
EXAMPLE_ADDRESS = "1 Example Street"
_SUFFIXES = PublicSuffixList()


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
    return _SUFFIXES.privatesuffix(domain) or domain


def base_url(settings: Settings, _: Dns) -> Iterator[Check]:
    url = settings.site.base_url
    if url.startswith("https://"):
        yield Check("base_url", Status.OK, f"{url} is https")
        return
    yield Check(
        "base_url",
        Status.FAIL,
        f"site.base_url is {url}: one-click unsubscribe (RFC 8058) needs an https URL, and "
        "Gmail and Yahoo require it of bulk senders",
        'serve Dispatch behind TLS and set site.base_url = "https://…"',
    )


def secret_key(settings: Settings, _: Dns) -> Iterator[Check]:
    try:
        secret = settings.secret_key.get_secret_value()
    except ConfigError as exc:
        yield Check("secret_key", Status.FAIL, str(exc), "run `dispatch init` to create one")
        return
    if len(secret) < 32 or secret.strip().lower() in WEAK_SECRETS:
        yield Check(
            "secret_key",
            Status.FAIL,
            "the secret key is short or a well-known value: unsubscribe links can be forged",
            "delete it and run `dispatch init` (48 random bytes), or set DISPATCH_SECRET_KEY",
        )
        return
    yield Check("secret_key", Status.OK, "the secret key is long and not a default")


def postal_address(settings: Settings, _: Dns) -> Iterator[Check]:
    address = settings.site.postal_address.strip()
    if not address or EXAMPLE_ADDRESS in address:
        yield Check(
            "postal_address",
            Status.WARN,
            "site.postal_address is still the example: bulk mail must show a real one (CAN-SPAM)",
            "set site.postal_address to your organisation's postal address",
        )
        return
    yield Check("postal_address", Status.OK, f"postal address: {address}")


def alignment(settings: Settings, _: Dns) -> Iterator[Check]:
    signing = settings.delivery.dkim.domain
    bounce = settings.bounces.domain
    for item in settings.lists:
        domain = item.from_email.rpartition("@")[2]
        org = organisational(domain)
        name = f"alignment {item.slug}"
        if not signing:
            status = Status.FAIL if settings.delivery.backend == "smtp" else Status.WARN
            yield Check(
                name,
                status,
                f"{item.from_email}: no DKIM signature (delivery.dkim.domain is not set)",
                f'set delivery.dkim.domain = "{domain}" and a private_key_file',
            )
        elif organisational(signing) != org:
            yield Check(
                name,
                Status.FAIL,
                f"{item.from_email}: DKIM signs as {signing}, not aligned with {domain} (DMARC)",
                f'sign with a domain under {org} (delivery.dkim.domain = "{domain}")',
            )
        elif bounce and organisational(bounce) != org:
            yield Check(
                name,
                Status.FAIL,
                f"{item.from_email}: the return path domain {bounce} is not aligned with {domain}",
                f'use a bounce domain under {org} (bounces.domain = "bounces.{org}")',
            )
        else:
            yield Check(name, Status.OK, f"{item.from_email}: DKIM and return path under {org}")


def dkim_record(settings: Settings, resolver: Dns) -> Iterator[Check]:
    signer = dkim.from_settings(settings, processes=False)
    if not isinstance(signer, dkim.DkimSigner):
        return
    for name, chosen in zip(signer.dns_names(), signer.selectors, strict=True):
        expected = chosen.key.dns_record()
        published = [r for r in resolver.txt(name) if "p=" in r]
        key = _tag(expected, "p")
        if any(_tag(record, "p") == key for record in published):
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
    domains = [settings.bounces.domain] if settings.bounces.domain else _from_domains(settings)
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
    for domain in dict.fromkeys(_from_domains(settings)):
        names = dict.fromkeys([f"_dmarc.{domain}", f"_dmarc.{organisational(domain)}"])
        found = [r for n in names for r in resolver.txt(n) if r.lower().startswith("v=dmarc1")]
        if not found or _tag(found[0], "p") is None:
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


CHECKS: tuple[Callable[[Settings, Dns], Iterator[Check]], ...] = (
    base_url,
    secret_key,
    postal_address,
    alignment,
    dkim_record,
    spf,
    dmarc,
    bounce_mx,
)


def run_checks(settings: Settings, resolver: Dns) -> list[Check]:
    found: list[Check] = []
    for check in CHECKS:
        try:
            found.extend(check(settings, resolver))
        except DnsError as exc:
            found.append(Check(check.__name__, Status.FAIL, str(exc), "check [doctor] nameserver"))
        except ConfigError as exc:
            found.append(Check(check.__name__, Status.FAIL, str(exc), "fix config.toml"))
    return found


def _from_domains(settings: Settings) -> list[str]:
    return [item.from_email.rpartition("@")[2].lower() for item in settings.lists]


def _tag(record: str, name: str) -> str | None:
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return "".join(value.split())
    return None
