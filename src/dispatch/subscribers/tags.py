"""Subscribers' tags: short labels in `subscriber_tags` (one row per subscriber and tag).

A tag is stored lower-cased (`str.lower`) with its spaces collapsed, so "Lisbon" and
"lisbon " are one tag, and segments compare tags without caring about case. `,` and `;`
separate tags in a CSV cell, so no tag contains them.

`apply_tags` is the one writer for many people at once (CSV imports of any service):
it adds tags, or replaces a person's tags, in a few statements per thousand people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from sqlalchemy import Connection, delete, insert, select, tuple_
from sqlalchemy.orm import Session

from dispatch.errors import TagError
from dispatch.store.models import SubscriberTag
from dispatch.subscribers.driver_rows import DriverStatement

Store = Session | Connection  # the ORM session, or a bulk import's connection

TAG_MAX = 100  # characters
TAGS_MAX = 100  # tags per subscriber
SEPARATORS = re.compile(r"[;,]")
CHUNK = 500


@lru_cache(maxsize=4096)  # an import meets the same few tags on most of its rows
def normalise_tag(raw: str) -> str:
    tag = " ".join(raw.split()).lower()
    if not tag:
        raise TagError("a tag cannot be empty")
    if len(tag) > TAG_MAX:
        raise TagError(f'the tag "{tag[:30]}…" is {len(tag)} characters; at most {TAG_MAX}')
    if SEPARATORS.search(tag):
        raise TagError(f'the tag "{tag}" contains "," or ";" (they separate tags)')
    if any(not char.isprintable() for char in tag):
        raise TagError(f"the tag {tag!r} contains a control character")
    return tag


def normalise_tags(raw: Iterable[str]) -> list[str]:
    """Each tag normalised, duplicates dropped, first-seen order kept."""
    tags = list(dict.fromkeys(normalise_tag(item) for item in raw))
    if len(tags) > TAGS_MAX:
        raise TagError(f"{len(tags)} tags; a subscriber carries at most {TAGS_MAX}")
    return tags


def split_tags(cell: str) -> list[str]:
    """The tags of a CSV cell: `a; b, c` → ["a", "b", "c"] (empty pieces skipped)."""
    return normalise_tags(piece for piece in SEPARATORS.split(cell) if piece.strip())


def tags_of(session: Session, subscriber_id: int) -> list[str]:
    query = select(SubscriberTag.tag).where(SubscriberTag.subscriber_id == subscriber_id)
    return sorted(session.scalars(query))


def tags_by_subscriber(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(SubscriberTag.subscriber_id, SubscriberTag.tag)
            .where(SubscriberTag.subscriber_id.in_(wanted[start : start + CHUNK]))
            .order_by(SubscriberTag.subscriber_id, SubscriberTag.tag)
        )
        for person, tag in rows:
            found.setdefault(person, []).append(tag)
    return found


def set_tags(session: Session, subscriber_id: int, tags: Iterable[str]) -> list[str]:
    """Replace one subscriber's tags; returns them as stored."""
    clean = normalise_tags(tags)
    apply_tags(session, {subscriber_id: clean}, replace=True)
    return sorted(clean)


def apply_tags(session: Store, tags: Mapping[int, Iterable[str]], *, replace: bool = False) -> int:
    """Give each subscriber id its tags (already normalised or not): added to what they
    carry, or instead of it with `replace`. Returns how many rows were added."""
    wanted = {person: set(normalise_tags(items)) for person, items in tags.items()}
    ids = sorted(wanted)
    added = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        have = _current(session, chunk)
        if replace:
            _drop(session, [(p, t) for p in chunk for t in have.get(p, ()) if t not in wanted[p]])
        fresh = [
            {"subscriber_id": p, "tag": t}
            for p in chunk
            for t in sorted(wanted[p])
            if t not in have.get(p, ())
        ]
        _check_room(chunk, have, wanted, replace)
        if fresh:
            session.execute(insert(SubscriberTag), fresh)
            added += len(fresh)
    return added


def tag_new_people(connection: Connection, tags: Mapping[int, Iterable[str]]) -> int:
    """Tags (normalised) for people created in this transaction, who carry none yet: one
    executemany straight through the driver, no look-up. Returns how many rows."""
    wanted = {person: set(items) for person, items in tags.items()}
    _check_room(list(wanted), {}, wanted, replace=True)
    rows = [(person, tag) for person, items in wanted.items() for tag in sorted(items)]
    DriverStatement(connection, SubscriberTag.__table__, ["subscriber_id", "tag"]).run(rows)
    return len(rows)


def _current(session: Store, chunk: list[int]) -> dict[int, set[str]]:
    have: dict[int, set[str]] = {}
    rows = session.execute(
        select(SubscriberTag.subscriber_id, SubscriberTag.tag).where(
            SubscriberTag.subscriber_id.in_(chunk)
        )
    )
    for person, tag in rows:
        have.setdefault(person, set()).add(tag)
    return have


def _drop(session: Store, pairs: list[tuple[int, str]]) -> None:
    if pairs:
        session.execute(
            delete(SubscriberTag).where(
                tuple_(SubscriberTag.subscriber_id, SubscriberTag.tag).in_(pairs)
            )
        )


def _check_room(
    chunk: list[int], have: dict[int, set[str]], wanted: dict[int, set[str]], replace: bool
) -> None:
    for person in chunk:
        total = len(wanted[person]) if replace else len(have.get(person, set()) | wanted[person])
        if total > TAGS_MAX:
            raise TagError(f"subscriber {person} would carry {total} tags; at most {TAGS_MAX}")
