"""One record of another service's export → an `Incoming` row or a `Reject` saying why.

Names are joined from first and last where the service splits them; tags are read as
the service writes them (Mailchimp: `"Tag A","Tag B"`; Ghost: `a,b`; a JSON list);
dates are parsed with python-dateutil (ISO 8601 or Mailchimp's `2018-02-12 10:54:27`,
taken as UTC when they carry no zone); a JSON object column (listmonk `attributes`,
Buttondown `metadata`) adds its keys to the attributes. Tags become the subscriber's tags.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any

from dateutil import parser as dateparser

from dispatch.errors import TagError
from dispatch.store.models import SubscriptionStatus
from dispatch.subscribers.addresses import clean_name
from dispatch.subscribers.csv_rows import Header, Record
from dispatch.subscribers.import_caps import over_cap
from dispatch.subscribers.import_services import ServiceColumns
from dispatch.subscribers.merge import Incoming
from dispatch.subscribers.rejects import Reject
from dispatch.subscribers.tags import normalise_tags

STATES = {"confirmed": SubscriptionStatus.CONFIRMED, "pending": SubscriptionStatus.PENDING}


class RowProblem(ValueError):
    """What is wrong with one field of a row."""


def service_row(record: Record, email: str, header: Header) -> Incoming | Reject:
    columns: ServiceColumns = header.mapping
    fields = record.fields
    try:
        outcome = _outcome(fields, header, columns)
        tags = _tags(fields[columns.tags]) if columns.tags is not None else []
        attributes = _attributes(fields, header, columns)
        since = _date(fields, columns.created, header)
        confirmed_at = _date(fields, columns.confirmed, header)
    except RowProblem as exc:
        return Reject(record.line, str(exc), fields)
    name = _name(fields, header, columns)
    problem = over_cap(name, attributes, tags)
    if problem:
        return Reject(record.line, problem, fields)
    try:
        tags = normalise_tags(tags)
    except TagError as exc:
        return Reject(record.line, f"tags: {exc}", fields)
    if outcome == "skip" or email.endswith(columns.service.skip_domains):
        return Incoming(record.line, email, skip=True)
    value = fields[header.status].strip() if header.status is not None else outcome
    return Incoming(
        line=record.line,
        email=email,
        name=name,
        attributes=attributes,
        tags=tuple(tags),
        state=STATES.get(outcome),
        suppress=None if outcome in STATES else f"{columns.service.name} {value or outcome}"[:50],
        since=since,
        confirmed_at=confirmed_at or (since if outcome == "confirmed" else None),
    )


def _outcome(fields: list[str], header: Header, columns: ServiceColumns) -> str:
    if columns.file_status:
        return columns.file_status
    if header.status is None:
        return "confirmed"
    value = fields[header.status].strip().lower()
    outcome = columns.service.statuses.get(value)
    if outcome is None:
        known = ", ".join(sorted(v for v in columns.service.statuses if v))
        column = header.names[header.status]
        raise RowProblem(f"unknown {column} {value!r} (known: {known})")
    return outcome


def _name(fields: list[str], header: Header, columns: ServiceColumns) -> str:
    if header.name is not None:
        return clean_name(fields[header.name])
    parts = [fields[i] for i in (columns.first, columns.last) if i is not None]
    return clean_name(" ".join(parts))


def _tags(raw: str) -> list[str]:
    text = raw.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise RowProblem(f"tags are not a JSON list: {exc}") from None
        values = [str(item) for item in found] if isinstance(found, list) else [text]
    else:
        values = next(csv.reader([text], skipinitialspace=True))
    tags = [" ".join(value.strip().strip('"').split()) for value in values]
    return list(dict.fromkeys(tag for tag in tags if tag))


def _attributes(fields: list[str], header: Header, columns: ServiceColumns) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for index, column in columns.json_columns:
        attributes.update(_json_object(fields[index], column))
    for index, key in header.attributes:
        value = fields[index].strip()
        if value:
            attributes[key] = value
    return attributes


def _json_object(raw: str, column: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        found = json.loads(raw)
    except ValueError as exc:
        raise RowProblem(f'column "{column}" is not JSON: {exc}') from None
    if not isinstance(found, dict):
        raise RowProblem(f'column "{column}" is not a JSON object')
    return {
        str(key): value if isinstance(value, str | int | float | bool) else json.dumps(value)
        for key, value in found.items()
        if value is not None
    }


def _date(fields: list[str], index: int | None, header: Header) -> datetime | None:
    if index is None or not fields[index].strip():
        return None
    raw = fields[index].strip()
    try:  # ISO 8601 and Mailchimp's "2018-02-12 10:54:27": the fast parser first
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = _slow_date(raw, header.names[index])
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _slow_date(raw: str, column: str) -> datetime:
    try:
        return dateparser.isoparse(raw)
    except ValueError:
        try:
            return dateparser.parse(raw)
        except (ValueError, OverflowError):
            raise RowProblem(f'column "{column}": {raw!r} is not a date') from None
