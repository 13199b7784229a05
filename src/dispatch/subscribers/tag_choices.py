"""Tags a subscriber chooses on the preferences page (`lists[].preference_tags`).

Only offered tags are shown and only they change: ticking adds the tag, unticking an
offered tag removes it, and a value the form sends that is not offered is ignored (a
subscriber cannot give themselves any other tag). A tag offered by several lists is
shown once, under the first list offering it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dispatch.subscribers.optin import current_id
from dispatch.subscribers.tags import set_tags, tags_of


@dataclass(frozen=True)
class TagChoice:
    tag: str
    chosen: bool


def offered_by_list(offers: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each list's offered tags, a tag kept only under the first list offering it."""
    seen: set[str] = set()
    shown: dict[str, list[str]] = {}
    for slug, tags in offers.items():
        shown[slug] = [tag for tag in tags if tag not in seen]
        seen.update(tags)
    return shown


def load_tag_choices(
    session: Session, subscriber_id: int, offers: Mapping[str, Sequence[str]]
) -> dict[str, list[TagChoice]]:
    have = set(tags_of(session, current_id(session, subscriber_id)))
    return {
        slug: [TagChoice(tag, tag in have) for tag in tags]
        for slug, tags in offered_by_list(offers).items()
        if tags
    }


def save_tag_choices(
    session: Session,
    subscriber_id: int,
    offers: Mapping[str, Sequence[str]],
    chosen: Collection[str],
) -> list[str]:
    """Give the person the offered tags in `chosen`, take away the other offered ones;
    returns their tags afterwards."""
    person = current_id(session, subscriber_id)
    offered = {tag for tags in offers.values() for tag in tags}
    if not offered:
        return tags_of(session, person)
    kept = [tag for tag in tags_of(session, person) if tag not in offered]
    wanted = [tag for tag in sorted(offered) if tag in set(chosen)]
    return set_tags(session, person, [*kept, *wanted])
