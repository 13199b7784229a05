"""Per-recipient placeholders that survive Jinja2 and MJML compilation.

While a message is rendered once for a whole campaign, every per-recipient value a
template asks for (`{{ recipient.name }}`, `{{ recipient.attributes.city }}`,
`{{ urls.unsubscribe }}` …) renders as a unique token made of letters and digits only,
so neither autoescaping nor MJML alters it. `prepared.SlotTemplate` later splits the
compiled output at these tokens and fills in each recipient's values.
"""

from __future__ import annotations

import re
import secrets
from typing import NoReturn

SlotKey = tuple[str, str]  # (kind, name): ("recipient", "name"), ("attribute", "city"), ("url", …)


class SlotRegistry:
    """Hands out one token per distinct slot key; the nonce makes tokens unguessable."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.keys: list[SlotKey] = []
        self._index: dict[SlotKey, int] = {}
        self.pattern = re.compile(f"zz{self.nonce}s([0-9]+)zz")

    def token(self, key: SlotKey) -> str:
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.keys)
            self.keys.append(key)
        return f"zz{self.nonce}s{index}zz"


class RecipientSlots:
    """`recipient` in templates: name, email, greeting and attributes of whoever receives it."""

    def __init__(self, registry: SlotRegistry) -> None:
        self._registry = registry
        self.attributes = AttributeSlots(registry)

    @property
    def name(self) -> str:
        return self._registry.token(("recipient", "name"))

    @property
    def email(self) -> str:
        return self._registry.token(("recipient", "email"))

    @property
    def greeting(self) -> str:
        """ "Hi Sam," for a named recipient, "Hello," otherwise."""
        return self._registry.token(("recipient", "greeting"))


class AttributeSlots:
    """`recipient.attributes.city` or `recipient.attributes["city"]`: "" when absent."""

    def __init__(self, registry: SlotRegistry) -> None:
        self._registry = registry

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._registry.token(("attribute", name))

    def __getitem__(self, name: str) -> str:
        return self._registry.token(("attribute", str(name)))

    def __str__(self) -> NoReturn:
        raise TypeError(
            "recipient.attributes is not text: name one, e.g. recipient.attributes.city"
        )


class LinkSlots:
    """`urls` in templates: per-recipient links as slots, campaign links as plain strings."""

    def __init__(self, registry: SlotRegistry, home: str, view_in_browser: str) -> None:
        self._registry = registry
        self.home = home
        self.view_in_browser = view_in_browser

    @property
    def unsubscribe(self) -> str:
        return self._registry.token(("url", "unsubscribe"))

    @property
    def preferences(self) -> str:
        return self._registry.token(("url", "preferences"))

    @property
    def confirm(self) -> str:
        return self._registry.token(("url", "confirm"))
