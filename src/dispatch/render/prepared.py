"""A message compiled once per campaign, filled cheaply for each recipient.

`PreparedEmail.fill(recipient)` never touches Jinja2 or MJML: the compiled HTML and
text were split once into literal chunks and numbered slots, so a fill is a list copy,
a few assignments and one `"".join`. Values are HTML-escaped in the HTML part only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from operator import attrgetter
from typing import Any

from dispatch.render.slots import SlotKey, SlotRegistry

_NEEDS_ESCAPE = re.compile(r"[&<>\"']").search
HTML_LIMIT = 102_000  # bytes; Gmail clips larger messages
SLOT_RESERVE = 320  # bytes kept free per slot occurrence for the recipient's value


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whoever one copy goes to, with the links already signed for them."""

    email: str
    name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    unsubscribe_url: str = ""
    preferences_url: str = ""
    confirm_url: str = ""
    click_url: Callable[[int], str] | None = None  # tracked link n, per person (`tracking`)


Getter = Callable[[Recipient], str]


class SlotTemplate:
    """A compiled string as literal chunks with holes; `fill` puts values in the holes."""

    __slots__ = ("literal_bytes", "pieces", "positions")

    def __init__(self, compiled: str, registry: SlotRegistry) -> None:
        parts = registry.pattern.split(compiled)  # literal, index, literal, index, …
        self.pieces: list[str] = list(parts)
        self.positions: tuple[tuple[int, int], ...] = tuple(
            (pos, int(parts[pos])) for pos in range(1, len(parts), 2)
        )
        self.literal_bytes = sum(len(p.encode()) for p in parts[0::2])

    def fill(self, values: Sequence[str]) -> str:
        pieces = self.pieces.copy()
        for pos, index in self.positions:
            pieces[pos] = values[index]
        return "".join(pieces)

    @property
    def slot_count(self) -> int:
        return len(self.positions)

    @property
    def max_bytes(self) -> int:
        """Size once filled, assuming no value is longer than SLOT_RESERVE bytes."""
        return self.literal_bytes + SLOT_RESERVE * self.slot_count


@dataclass(frozen=True)
class PreparedEmail:
    """Subject, preheader, HTML and text of one message, ready for any recipient."""

    kind: str
    subject: str
    preheader: str
    html: SlotTemplate
    text: SlotTemplate
    getters: tuple[Getter, ...]
    warnings: tuple[str, ...] = ()
    keys: tuple[SlotKey, ...] = ()  # the slot key of each getter, for campaign snapshots

    @classmethod
    def build(
        cls,
        kind: str,
        subject: str,
        preheader: str,
        html: str,
        text: str,
        registry: SlotRegistry,
        warnings: Sequence[str] = (),
    ) -> PreparedEmail:
        return cls(
            kind=kind,
            subject=subject,
            preheader=preheader,
            html=SlotTemplate(html, registry),
            text=SlotTemplate(text, registry),
            getters=tuple(getter(key) for key in registry.keys),
            warnings=tuple(warnings),
            keys=tuple(registry.keys),
        )

    def fill(self, recipient: Recipient) -> tuple[str, str]:
        """(html, text) for one recipient."""
        values = [get(recipient) for get in self.getters]
        return self.html.fill(html_values(values)), self.text.fill(values)


def html_values(values: Sequence[str]) -> list[str]:
    """`values` HTML-escaped (most need nothing: a regex search is cheaper than escape)."""
    return [escape(v) if _NEEDS_ESCAPE(v) else v for v in values]


def getter(key: SlotKey) -> Getter:
    kind, name = key
    if kind == "attribute":
        return lambda r: _text(r.attributes.get(name))
    if kind == "merge":  # an editor's {{ field | default("…") }} (`merge_tags`)
        field_name, _, default = name.partition(":")
        value = MERGE_FIELDS[field_name]
        return lambda r: value(r) or default
    if kind == "click":  # a tracked link naming its reader (`campaigns.tracking`)
        position = int(name)
        return lambda r: r.click_url(position) if r.click_url is not None else ""
    if key == ("recipient", "greeting"):
        return lambda r: f"Hi {r.name}," if r.name else "Hello,"
    fields = {
        ("recipient", "name"): "name",
        ("recipient", "email"): "email",
        ("url", "unsubscribe"): "unsubscribe_url",
        ("url", "preferences"): "preferences_url",
        ("url", "confirm"): "confirm_url",
    }
    return attrgetter(fields[key])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _first_name(recipient: Recipient) -> str:
    given = _text(recipient.attributes.get("first_name")).strip()
    if given:
        return given
    words = recipient.name.split()
    return words[0] if words else ""


MERGE_FIELDS: dict[str, Getter] = {
    "name": lambda r: r.name.strip(),
    "first_name": _first_name,
    "email": attrgetter("email"),
}
