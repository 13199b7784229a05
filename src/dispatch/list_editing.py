"""Creating and changing lists outside config.toml (the admin, `dispatch lists create|edit`).

Input is checked by the same rules as `[[lists]]` in config.toml (`ListSettings`: a key
of lower-case letters, digits and dashes, a cron schedule, a time zone, valid
addresses), and a refusal names the field. A list edited here is marked (`edited_at`),
so `dispatch init` no longer overwrites it from config.toml. The key of an existing list
never changes: links in mail already sent, feeds and `--list` options name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import ListSettings, Settings
from dispatch.errors import ListError
from dispatch.lists import apply_settings, as_settings, get_list, mark_edited
from dispatch.store.models import MailingList

EDITABLE = (
    "name",
    "description",
    "sections",
    "schedule",
    "timezone",
    "from_name",
    "from_email",
    "reply_to",
    "double_opt_in",
)


def checked(values: Mapping[str, Any]) -> ListSettings:
    """`values` as list settings, or ListError naming each field that is wrong."""
    try:
        return ListSettings.model_validate(dict(values))
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ListError(f"list not saved: {problems}") from None


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "list"
    return f"{where}: {error.get('msg', 'invalid')}"


def create_list(
    session: Session, settings: Settings, values: Mapping[str, Any], now: datetime
) -> MailingList:
    item = checked(_cleaned(values))
    if session.scalar(select(MailingList.id).where(MailingList.slug == item.slug)) is not None:
        raise ListError(f'list not saved: a list with the key "{item.slug}" exists already')
    row = MailingList(slug=item.slug, created_at=now)
    apply_settings(row, item, settings.list_timezone(item))
    mark_edited(row, now)
    session.add(row)
    session.flush()
    return row


def edit_list(
    session: Session, settings: Settings, slug: str, changes: Mapping[str, Any], now: datetime
) -> MailingList:
    """Change some fields of the list `slug` (the others stay as stored)."""
    row = get_list(session, slug)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ListError(f"list not saved: {', '.join(unknown)} cannot be changed here")
    current = as_settings(row).model_dump()
    item = checked(current | _cleaned(changes) | {"slug": row.slug})
    apply_settings(row, item, settings.list_timezone(item))
    mark_edited(row, now)
    session.flush()
    return row


def _cleaned(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form values as the settings take them: blank optional fields are "not set"."""
    found = dict(values)
    for key in ("timezone", "reply_to"):
        if isinstance(found.get(key), str) and not found[key].strip():
            found[key] = None
    if isinstance(found.get("sections"), str):
        found["sections"] = [part.strip() for part in found["sections"].split(",") if part.strip()]
    for key in ("name", "description", "from_name", "from_email", "schedule", "slug"):
        if isinstance(found.get(key), str):
            found[key] = found[key].strip()
    return found
