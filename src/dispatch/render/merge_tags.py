"""Merge tags: the few per-recipient words an editor may write in a note or an article.

    {{ name }}          the subscriber's name ("" when unknown)
    {{ first_name }}    the `first_name` attribute, else the name's first word
    {{ email }}         the address the copy goes to
    {{ name | default("reader") }}   any of them, with a fallback for an empty value

In a note or an article sent by email, each tag becomes a slot of the message's
`SlotRegistry`: the message is still compiled once, and each recipient's copy is only
filled (`prepared.PreparedEmail.fill`, `delivery.wire`), HTML-escaped in the HTML part.
Anything else between `{{` and `}}` is an error when the mail is previewed or sent (it
is never sent literally); text inside `<code>` or `<pre>` is left alone, so an article
can show template syntax. On pages and in feeds there is no recipient: a tag shows its
default, or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from lxml import etree

from dispatch.errors import RenderError
from dispatch.fragments import inner_html, parse_fragment
from dispatch.render.slots import SlotKey, SlotRegistry

FIELDS = ("name", "first_name", "email")
TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
EXPRESSION = re.compile(
    r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\s*\(\s*(?:"([^"]*)"|'([^']*)')\s*\)\s*)?$"""
)
LITERAL = frozenset({"code", "pre", "kbd", "samp"})
KNOWN = ", ".join(f"{{{{ {name} }}}}" for name in FIELDS)


@dataclass(frozen=True)
class MergeTag:
    field: str
    default: str

    @property
    def key(self) -> SlotKey:
        return ("merge", f"{self.field}:{self.default}")


def parse(raw: str) -> MergeTag:
    """`raw` is the text between the braces; RenderError says what is wrong with it."""
    match = EXPRESSION.match(raw)
    if match is None or match.group(1) not in FIELDS:
        shown = " ".join(raw.split())[:80]
        raise RenderError(
            f'merge tag "{{{{ {shown} }}}}" is not one Dispatch knows: use {KNOWN}, '
            'optionally with | default("…") (put it in `code` to show it as it is)'
        )
    return MergeTag(match.group(1), match.group(2) or match.group(3) or "")


def check_subject(subject: str) -> None:
    if TAG.search(subject):
        raise RenderError(
            "merge tags work in the body only: the subject is the same for every recipient"
        )


def to_slots(html: str, registry: SlotRegistry) -> str:
    """HTML whose tags (outside code) are slots of `registry`; RenderError for unknown ones."""
    return _rewrite(html, lambda tag: registry.token(tag.key))


def with_defaults(html: str) -> str:
    """HTML (or text) for pages and feeds: known tags show their default; others stay."""
    if "{{" not in html:
        return html

    def replace(match: re.Match[str]) -> str:
        try:
            return escape(parse(match.group(1)).default, quote=False)
        except RenderError:
            return match.group(0)

    return TAG.sub(replace, html)


def _rewrite(html: str, fill: object) -> str:
    if "{{" not in html:
        return html
    root = parse_fragment(html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        literal = _in_literal(element)
        if element.text and not literal:
            element.text = _sub(element.text, fill)
        if element.tail and not _in_literal(element.getparent()):
            element.tail = _sub(element.tail, fill)
    return inner_html(root)


def _in_literal(element: etree._Element | None) -> bool:
    while element is not None:
        if element.tag in LITERAL:
            return True
        element = element.getparent()
    return False


def _sub(text: str, fill: object) -> str:
    return TAG.sub(lambda match: fill(parse(match.group(1))), text)  # type: ignore[operator]
