"""A `Recipient` with its signed links, from a subscriber's id, address and attributes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dispatch.render.prepared import Recipient
from dispatch.tokens import Tokens
from dispatch.urls import Urls


def signed_recipient(
    *,
    subscriber_id: int,
    email: str,
    list_slug: str,
    tokens: Tokens,
    urls: Urls,
    name: str = "",
    attributes: Mapping[str, Any] | None = None,
    with_confirm: bool = False,
    confirm_also: Sequence[str] = (),
) -> Recipient:
    """Unsubscribe, preferences (and confirm) URLs carry tokens naming this subscriber;
    the confirm URL also names the `confirm_also` lists chosen at the same sign-up."""
    confirm = ""
    if with_confirm:
        confirm = urls.confirm(tokens.confirm(subscriber_id, list_slug, *confirm_also))
    return Recipient(
        email=email,
        name=name,
        attributes=dict(attributes or {}),
        unsubscribe_url=urls.unsubscribe(tokens.unsubscribe(subscriber_id, list_slug)),
        preferences_url=urls.preferences(tokens.preferences(subscriber_id)),
        confirm_url=confirm,
    )
