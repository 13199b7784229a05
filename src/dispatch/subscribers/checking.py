"""Turning CSV records into valid rows or rejects.

Checking an address with email-validator costs ~25-600 µs; plain ASCII addresses take a
fast path (the domain checked once). A big file is checked in a reader process ahead of
the writer (`file_rows`), not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from dispatch.errors import InvalidAddress, TagError
from dispatch.subscribers.addresses import clean_name, normalise_address
from dispatch.subscribers.csv_rows import Header, Record
from dispatch.subscribers.import_caps import over_cap
from dispatch.subscribers.merge import Incoming
from dispatch.subscribers.rejects import Reject
from dispatch.subscribers.tags import split_tags

STATUSES = {"", "pending", "confirmed", "unsubscribed"}
CHUNK = 2000  # records whose addresses are checked together

Checked = tuple[str, str]  # (normalised address, "") or ("", why it is not one)


def checked(records: Iterable[Record], header: Header) -> Iterator[list[Incoming | Reject]]:
    """Every record, checked, in file order: `CHUNK` records' rows at a time."""
    records = iter(records)
    for chunk in iter(lambda: list(islice(records, CHUNK)), []):
        yield list(_combine(chunk, check_addresses(_addresses(chunk, header)), header))


def check_addresses(raw: list[str]) -> list[Checked]:
    """What `normalise_address` makes of each string."""
    results: list[Checked] = []
    for text in raw:
        try:
            results.append((normalise_address(text), ""))
        except InvalidAddress as exc:
            results.append(("", str(exc)))
    return results


def _addresses(chunk: list[Record], header: Header) -> list[str]:
    width = len(header.names)
    return [
        "" if record.problem or len(record.fields) != width else record.fields[header.email]
        for record in chunk
    ]


def _combine(
    chunk: list[Record], results: list[Checked], header: Header
) -> Iterator[Incoming | Reject]:
    for record, (email, invalid) in zip(chunk, results, strict=True):
        yield _row(record, email, invalid, header)


def _row(record: Record, email: str, invalid: str, header: Header) -> Incoming | Reject:
    """An Incoming row, or a Reject saying what is wrong with the record."""
    fields = record.fields
    if record.problem:
        return Reject(record.line, record.problem, fields)
    if len(fields) != len(header.names):
        reason = f"expected {len(header.names)} columns, found {len(fields)}"
        return Reject(record.line, reason, fields)
    if invalid:
        return Reject(record.line, invalid, fields)
    if header.mapping is not None:
        from dispatch.subscribers.service_rows import service_row  # imports this module's users

        return service_row(record, email, header)
    status = fields[header.status].strip().lower() if header.status is not None else ""
    if status not in STATUSES:
        return Reject(record.line, f"unknown status {status!r}", fields)
    attributes = {key: value for i, key in header.attributes if (value := fields[i].strip())}
    try:
        tags = tuple(split_tags(fields[header.tags])) if header.tags is not None else ()
    except TagError as exc:
        return Reject(record.line, f"tags: {exc}", fields)
    name = clean_name(fields[header.name]) if header.name is not None else ""
    problem = over_cap(name, attributes, tags)
    if problem:
        return Reject(record.line, problem, fields)
    return Incoming(
        line=record.line,
        email=email,
        name=name,
        attributes=attributes,
        unsubscribed=status == "unsubscribed",
        tags=tags,
    )
