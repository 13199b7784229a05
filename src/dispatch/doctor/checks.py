"""The configuration checks of `dispatch doctor`: each a function of the settings that
says what it found and how to fix it. FAIL means the big mailbox providers will
reject or junk the mail (their 2024 bulk-sender rules); WARN means worth fixing. The
DNS record checks are in `records`."""

from __future__ import annotations

from collections.abc import Iterator

from dispatch.config import Settings
from dispatch.doctor.dns import Dns
from dispatch.doctor.findings import Check, Status, organisational
from dispatch.errors import ConfigError

WEAK_SECRETS = {"changeme", "change-me", "secret", "dispatch", "default", "password", "test"}
EXAMPLE_ADDRESS = "1 Example Street"


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
