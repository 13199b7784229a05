"""A `Recipient` with its signed links, from a subscriber's id, address and attributes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dispatch.render.prepared import Recipient
from dispatch.tokens import Tokens
from dispatch.urls import Urls


def signed_recipient(
    *,
    subscriber_id: int,
    token_key: str,
    email: str,
    list_slug: str,
    tokens: Tokens,
    urls: Urls,
    name: str = "",
    attributes: Mapping[str, Any] | None = None,
    with_confirm: bool = False,
    campaign_id: int | None = None,
    click_url: Callable[[int], str] | None = None,
    confirm_also: Sequence[str] = (),
) -> Recipient:
    """Unsubscribe, preferences (and confirm) URLs carry tokens naming this subscriber
    and bound to their `token_key` (and the campaign the unsubscribe and preferences
    links come from);
    the confirm URL also names the `confirm_also` lists chosen at the same sign-up;
    `click_url(n)` makes the tracked link number n of a per-person tracked campaign."""
    key = token_key
    confirm = ""
    if with_confirm:
        confirm = urls.confirm(tokens.confirm(subscriber_id, list_slug, key, *confirm_also))
    return Recipient(
        email=email,
        name=name,
        attributes=dict(attributes or {}),
        unsubscribe_url=urls.unsubscribe(
            tokens.unsubscribe(subscriber_id, list_slug, key, campaign_id)
        ),
        preferences_url=urls.preferences(tokens.preferences(subscriber_id, key, campaign_id)),
        confirm_url=confirm,
        click_url=click_url,
    )
