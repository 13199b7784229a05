"""Other services' subscriber exports, as tables: which column holds what, what a status means.

Each `Service` names the columns of its documented export (matched case-insensitively):
the address, the name (whole, or first + last), a status column and what its values
mean, tags, and the sign-up and confirmation dates. A value's meaning is one of:
- "confirmed" / "pending": subscribed to the list in that state;
- "unsubscribed" / "cleaned": kept as a suppression (reason "<service> <value>"), so the
  address is never mailed, whatever list it is on;
- "skip": not imported (Mailchimp's transactional-only contacts, Substack's deletions).
Mailchimp exports subscribed, unsubscribed and cleaned people as separate files; the
last two carry `UNSUB_TIME` or `CLEAN_TIME`, which gives every row of that file its
status (`--status` does the same for any file). Other documented columns become
attributes, except internal ids and IP addresses, which are of no use here; columns a
service does not document are kept too, and listed as unknown in the summary.
`detect` picks the service whose marker columns a header has ("auto").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.errors import CsvRowError
from dispatch.subscribers.csv_rows import Header, Record, checked_names
from dispatch.subscribers.import_caps import ATTRIBUTES_MAX

OUTCOMES = ("confirmed", "pending", "unsubscribed", "cleaned", "skip")
SUBSCRIBED = {"": "confirmed", "subscribed": "confirmed", "pending": "pending"}
GONE = {"unsubscribed": "unsubscribed", "cleaned": "cleaned"}


@dataclass(frozen=True)
class Service:
    name: str
    email: tuple[str, ...]
    markers: tuple[frozenset[str], ...]  # any one set present in a header names the service
    name_column: tuple[str, ...] = ()
    first: tuple[str, ...] = ()
    last: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    statuses: Mapping[str, str] = field(default_factory=dict)  # lower-case value → outcome
    file_status: Mapping[str, str] = field(default_factory=dict)  # column present → outcome
    tags: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    confirmed: tuple[str, ...] = ()
    json_columns: tuple[str, ...] = ()  # a JSON object spread into attributes
    known: frozenset[str] = frozenset()  # documented, kept as attributes
    dropped: frozenset[str] = frozenset()  # documented, not kept
    skip_domains: tuple[str, ...] = ()


def _lower(*names: str) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


MAILCHIMP = Service(
    "mailchimp",
    email=("email address", "email"),
    markers=(_lower("Email Address", "MEMBER_RATING"), _lower("Email Address", "LEID")),
    first=("first name", "fname"),
    last=("last name", "lname"),
    status=("status", "member_status"),
    statuses={**SUBSCRIBED, **GONE, "transactional": "skip", "archived": "skip"},
    file_status={"unsub_time": "unsubscribed", "clean_time": "cleaned"},
    tags=("tags",),
    created=("optin_time",),
    confirmed=("confirm_time",),
    known=_lower(
        "MEMBER_RATING",
        "LATITUDE",
        "LONGITUDE",
        "GMTOFF",
        "DSTOFF",
        "TIMEZONE",
        "CC",
        "REGION",
        "LAST_CHANGED",
        "NOTES",
        "UNSUB_TIME",
        "UNSUB_CAMPAIGN_TITLE",
        "UNSUB_CAMPAIGN_ID",
        "UNSUB_REASON",
        "UNSUB_REASON_OTHER",
        "CLEAN_TIME",
        "CLEAN_CAMPAIGN_TITLE",
        "CLEAN_CAMPAIGN_ID",
        "Address",
        "Phone Number",
        "Birthday",
        "Company",
        "Position",
        "ZIP Code",
    ),
    dropped=_lower("OPTIN_IP", "CONFIRM_IP", "LEID", "EUID"),
)
SUBSTACK = Service(
    "substack",
    email=("email",),
    markers=(_lower("email", "active_subscription"), _lower("email", "email_disabled")),
    name_column=("name",),
    status=("email_disabled",),  # true: they turned emails off
    statuses={"true": "unsubscribed", "false": "confirmed", "": "confirmed"},
    created=("created_at",),
    known=_lower(
        "active_subscription",
        "expiry",
        "plan",
        "type",
        "comp",
        "gift",
        "title",
        "first_payment_at",
        "subscription_interval",
        "country",
        "state",
        "city",
    ),
    dropped=_lower("stripe_connected_customer_id", "stripe_customer_id"),
    skip_domains=("@deletion-request.substack.com",),
)
GHOST = Service(
    "ghost",
    email=("email",),
    markers=(_lower("email", "subscribed_to_emails"), _lower("email", "complimentary_plan")),
    name_column=("name",),
    status=("subscribed_to_emails",),
    statuses={"true": "confirmed", "false": "unsubscribed", "": "confirmed"},
    tags=("labels",),
    created=("created_at",),
    known=_lower("note", "complimentary_plan", "deleted_at", "tiers"),
    dropped=_lower("id", "stripe_customer_id"),
)
LISTMONK = Service(
    "listmonk",
    email=("email",),
    markers=(_lower("uuid", "email", "attributes"),),
    name_column=("name",),
    status=("status",),
    statuses={"enabled": "confirmed", "disabled": "unsubscribed", "blocklisted": "cleaned"},
    created=("created_at",),
    json_columns=("attributes",),
    known=_lower("updated_at"),
    dropped=_lower("uuid", "id"),
)
BUTTONDOWN = Service(
    "buttondown",
    email=("email", "email_address"),
    markers=(_lower("subscriber_type"), _lower("email_address", "secondary_id")),
    status=("subscriber_type", "type"),
    statuses={
        **{kind: "confirmed" for kind in ("regular", "premium", "gifted", "trialed")},
        **{kind: "confirmed" for kind in ("churned", "past_due", "paused", "")},
        "unactivated": "pending",
        **{kind: "unsubscribed" for kind in ("unsubscribed", "removed")},
        **{kind: "cleaned" for kind in ("spammy", "complained", "undeliverable", "blocked")},
    },
    tags=("tags",),
    created=("date", "creation_date", "created_date"),
    json_columns=("metadata",),
    known=_lower(
        "notes",
        "referrer_url",
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "upgrade_date",
        "unsubscription_date",
        "last_open_date",
        "last_click_date",
    ),
    dropped=_lower("id", "secondary_id", "ip_address", "stripe_customer_id"),
)
SERVICES = {s.name: s for s in (MAILCHIMP, SUBSTACK, GHOST, LISTMONK, BUTTONDOWN)}
CHOICES = ("auto", "dispatch", *SERVICES)


def detect(names: list[str]) -> Service | None:
    """The service whose marker columns the header has, or None (Dispatch's own format)."""
    present = {name.strip().lower() for name in names}
    for service in SERVICES.values():
        if any(marker <= present for marker in service.markers):
            return service
    return None


@dataclass(frozen=True)
class ServiceColumns:
    """Where a service's fields sit in one file's header."""

    service: Service
    first: int | None
    last: int | None
    tags: int | None
    created: int | None
    confirmed: int | None
    json_columns: list[tuple[int, str]]
    file_status: str | None  # every row's outcome (a Mailchimp unsubscribed file, --status)


def service_header(
    record: Record | None, path: Path, service: Service, status: str | None = None
) -> Header:
    """A header mapped for `service`; a CsvRowError names what is missing."""
    if record is None:
        raise CsvRowError(1, f"empty file: expected a {service.name} export's header", path)
    names = checked_names(record, path)
    lower = [name.lower() for name in names]
    duplicates = sorted({key for key in lower if key and lower.count(key) > 1})
    email = _find(lower, service.email)
    if email is None or duplicates:
        wanted = " or ".join(f'"{name}"' for name in service.email)
        reason = f"no {wanted} column (found: {', '.join(names) or 'nothing'})"
        if duplicates:
            reason = f"duplicate columns: {', '.join(duplicates)}"
        raise CsvRowError(record.line, f"bad header for a {service.name} export: {reason}", path)
    mapping = ServiceColumns(
        service,
        first=_find(lower, service.first),
        last=_find(lower, service.last),
        tags=_find(lower, service.tags),
        created=_find(lower, service.created),
        confirmed=_find(lower, service.confirmed),
        json_columns=[(i, names[i]) for i, key in enumerate(lower) if key in service.json_columns],
        file_status=status or next((o for c, o in service.file_status.items() if c in lower), None),
    )
    return _header(names, lower, service, email, mapping)


def _header(
    names: list[str], lower: list[str], service: Service, email: int, mapping: ServiceColumns
) -> Header:
    name = _find(lower, service.name_column)
    status = _find(lower, service.status)
    used = {email, name, status, mapping.first, mapping.last, mapping.tags}
    used |= {mapping.created, mapping.confirmed} | {i for i, _ in mapping.json_columns}
    documented = service.known | {c for group in _columns(service) for c in group}
    attributes = [
        (i, names[i])
        for i, key in enumerate(lower)
        if i not in used and key not in service.dropped and names[i]
    ]
    return Header(
        names=names,
        email=email,
        name=name,
        status=status,
        attributes=attributes[:ATTRIBUTES_MAX],
        dropped=[key for _, key in attributes[ATTRIBUTES_MAX:]],
        unknown=[n for n, key in zip(names, lower, strict=True) if key not in documented],
        mapping=mapping,
    )


def _columns(service: Service) -> tuple[tuple[str, ...], ...]:
    return (
        service.email, service.name_column, service.first, service.last, service.status,
        service.tags, service.created, service.confirmed, service.json_columns,
        tuple(service.dropped), tuple(service.file_status),
    )  # fmt: skip


def _find(lower: list[str], candidates: tuple[str, ...]) -> int | None:
    return next((lower.index(c) for c in candidates if c in lower), None)
