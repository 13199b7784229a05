"""How much one CSV import may store per person, and the checks that say where it is over.

The same caps as the REST API (`web/api/schemas.py`: 50 attributes, values of at most
1,000 characters, tags of at most 100), so a person imported from a file looks like
one created through the API, and one wide row cannot blow up every later export.
A header wider than `COLUMNS_MAX` is refused as a whole (line 1); attribute columns
beyond `ATTRIBUTES_MAX` are not kept (listed in the summary); a row whose values are
over a cap is rejected with the column named, and the import goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS_MAX = 200
ATTRIBUTES_MAX = 50  # as the API's ATTRIBUTES_MAX
VALUE_MAX = 1000  # characters in one attribute value, as the API
NAME_MAX = 200  # as a name typed at /subscribe
TAGS_MAX = 100  # tags per person
TAG_MAX = 100  # characters in one tag, as the API


def over_cap(name: str, attributes: Mapping[str, Any], tags: Sequence[str]) -> str | None:
    """Why a person is over a cap (naming the column or tag), or None."""
    if len(name) > NAME_MAX:
        return f"name has {len(name):,} characters; at most {NAME_MAX}"
    if len(attributes) > ATTRIBUTES_MAX:
        return f"{len(attributes):,} attributes; at most {ATTRIBUTES_MAX}"
    for key, value in attributes.items():
        size = len(value) if isinstance(value, str) else 0
        if size > VALUE_MAX:
            return f'column "{key}" holds {size:,} characters; at most {VALUE_MAX:,}'
    if len(tags) > TAGS_MAX:
        return f"{len(tags):,} tags; at most {TAGS_MAX}"
    for tag in tags:
        if len(tag) > TAG_MAX:
            return f'tag "{tag[:40]}…" has {len(tag):,} characters; at most {TAG_MAX}'
    return None
