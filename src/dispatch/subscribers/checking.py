"""Turning CSV records into valid rows or rejects; addresses checked in worker processes.

Checking an address with email-validator costs ~25-600 µs; plain ASCII addresses now
take a fast path (the domain checked once), so by default addresses are checked in this
process. On request (`workers`) they go in chunks to a process pool while this process
writes earlier batches to the store.
Chunks come back in file order and only a few are in flight, so memory stays flat.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice

from dispatch.errors import InvalidAddress, TagError
from dispatch.subscribers.addresses import clean_name, normalise_address
from dispatch.subscribers.csv_rows import Header, Record
from dispatch.subscribers.import_caps import over_cap
from dispatch.subscribers.merge import Incoming
from dispatch.subscribers.rejects import Reject
from dispatch.subscribers.tags import split_tags

STATUSES = {"", "pending", "confirmed", "unsubscribed"}
CHUNK = 2000  # records per task sent to a worker
IN_FLIGHT = 3  # tasks per worker queued ahead

Checked = tuple[str, str]  # (normalised address, "") or ("", why it is not one)


def default_workers(size_bytes: int) -> int:
    """No pool by default: since plain addresses take `addresses`' cached-domain fast path
    (about 10 µs), handing chunks to another process costs about what it saves (measured
    on 150,000 rows: 19 s in-process, 22 s with one worker). Pass `workers` to use one."""
    return 0


def checked(records: Iterable[Record], header: Header, workers: int) -> Iterator[Incoming | Reject]:
    """Every record, checked, in file order."""
    records = iter(records)
    chunks = iter(lambda: list(islice(records, CHUNK)), [])
    if workers <= 0:
        for chunk in chunks:
            yield from _combine(chunk, check_addresses(_addresses(chunk, header)), header)
        return
    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[tuple[list[Record], Future[list[Checked]]]] = deque()
        for chunk in chunks:
            pending.append((chunk, pool.submit(check_addresses, _addresses(chunk, header))))
            if len(pending) >= workers * IN_FLIGHT:
                done, future = pending.popleft()
                yield from _combine(done, future.result(), header)
        while pending:
            done, future = pending.popleft()
            yield from _combine(done, future.result(), header)


def check_addresses(raw: list[str]) -> list[Checked]:
    """What `normalise_address` makes of each string (runs in a worker)."""
    results: list[Checked] = []
    for text in raw:
        try:
            results.append((normalise_address(text), ""))
        except InvalidAddress as exc:
            results.append(("", str(exc)))
    return results


def _start_method() -> str:
    """Fork where there is fork: workers start at once and need not re-import __main__.

    They only run `check_addresses`; they never touch the parent's database connections.
    """
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


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
