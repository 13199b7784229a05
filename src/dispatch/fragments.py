"""HTML fragments (article bodies) as lxml trees and back, the same way everywhere.

A fragment is parsed inside a wrapping `<div>` (it may hold text and several elements
at the top level), and written back as the wrapper's content only.
"""

from __future__ import annotations

import lxml.html
from lxml import etree


def parse_fragment(html: str) -> etree._Element:
    """`html` inside a `<div>` element that the caller may change."""
    return lxml.html.fragment_fromstring(html, create_parent="div")


def inner_html(wrapper: etree._Element) -> str:
    """The wrapper's content as HTML (the inverse of `parse_fragment`)."""
    markup = lxml.html.tostring(wrapper, encoding="unicode")
    return markup.removeprefix("<div>").removesuffix("</div>")
