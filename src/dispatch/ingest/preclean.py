"""Before sanitising: embeds become links, tracking pixels and subscribe prompts go.

The sanitiser drops `<iframe>`, `<embed>`, `<object>`, `<video>` and `<audio>` with
their content, so an embedded video would vanish without a trace. Here each becomes a
linked preview first: YouTube and Vimeo players become a link to the video's page
("Watch on YouTube", with YouTube's thumbnail), any other embed a link to what it shows.

Removed: tracking pixels (images declared 1x1 or smaller, or served by a known
tracker such as Medium's `/_/stat` or WordPress's `pixel.wp.com`), and newsletter
platforms' own prompts that make no sense in our copy (Substack's "Subscribe" widgets
and buttons). Everything else is left to the sanitiser.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import parse_qs, urlsplit

import lxml.html
from lxml import etree

from dispatch.fragments import inner_html, parse_fragment

EMBEDS = ("iframe", "embed", "object", "video", "audio")
TRIGGERS = re.compile(r"<(?:iframe|embed|object|video|audio|img)\b|subscri", re.IGNORECASE)
TRACKER_HOSTS = frozenset(
    {
        "pixel.wp.com",
        "stats.wordpress.com",
        "feeds.feedburner.com",
        "feeds.feedblitz.com",
        "www.google-analytics.com",
        "pixel.quantserve.com",
        "ping.chartbeat.net",
        "b.scorecardresearch.com",
        "sb.scorecardresearch.com",
        "pixel.mailchimp.com",
    }
)
TRACKER_PATHS = (re.compile(r"^/_/stat\b"), re.compile(r"^/~r/"), re.compile(r"/open\.gif$"))
PROMPT_CLASSES = re.compile(
    r"\b(subscription-widget(-wrap)?|subscribe-widget|subscribe-prompt|button-wrapper"
    r"|captioned-button-wrap|share-dialog|email-signup)\b"
)
PROMPT_TEXT = re.compile(
    r"^(subscribe( now| for free)?|share|leave a comment|thanks for reading\b.*subscribe\b.*)$",
    re.IGNORECASE,
)
YOUTUBE_ID = re.compile(r"^/(?:embed|v|shorts)/([A-Za-z0-9_-]{6,20})")
VIMEO_ID = re.compile(r"^/video/(\d+)")


def preclean(html: str) -> str:
    if TRIGGERS.search(html) is None:
        return html
    root = parse_fragment(html)
    for element in list(root.iter(*EMBEDS)):
        _replace_embed(element)
    for image in list(root.iter("img")):
        if is_tracking_pixel(image.get("src") or "", image.get("width"), image.get("height")):
            _remove(image)
    for element in list(root.iter()):
        if isinstance(element.tag, str) and _is_prompt(element):
            _remove(element)
    return inner_html(root)


def is_tracking_pixel(src: str, width: str | None, height: str | None) -> bool:
    parts = urlsplit(src.strip())
    if parts.hostname in TRACKER_HOSTS:
        return True
    if parts.hostname and any(path.search(parts.path) for path in TRACKER_PATHS):
        return True
    return _tiny(width) and _tiny(height)


def _tiny(value: str | None) -> bool:
    digits = (value or "").strip().removesuffix("px")
    return digits.isdigit() and int(digits) <= 1


def _replace_embed(element: etree._Element) -> None:
    if element.getparent() is None or _inside_embed(element):
        return
    src = element.get("src") or element.get("data") or _source_of(element)
    link = _preview(src, element.get("title") or "", element.tag) if src else None
    if link is None:
        _remove(element)
        return
    replacement = lxml.html.fragment_fromstring(link)
    replacement.tail = element.tail
    element.getparent().replace(element, replacement)


def _inside_embed(element: etree._Element) -> bool:
    return any(parent.tag in EMBEDS for parent in element.iterancestors())


def _source_of(element: etree._Element) -> str:
    source = element.find(".//source")
    return (source.get("src") or "") if source is not None else ""


def _preview(src: str, title: str, tag: str) -> str | None:
    url = src.strip()
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.removeprefix("www.")
    label = escape(title.strip()) if title.strip() else ""
    if host in ("youtube.com", "youtube-nocookie.com", "m.youtube.com", "youtu.be"):
        video = _youtube_id(parts)
        if video:
            return _card(
                f"https://www.youtube.com/watch?v={video}",
                f"https://i.ytimg.com/vi/{video}/hqdefault.jpg",
                label or "Video",
                "Watch on YouTube",
            )
    if host == "player.vimeo.com" and (match := VIMEO_ID.match(parts.path)):
        return _card(f"https://vimeo.com/{match.group(1)}", None, label, "Watch on Vimeo")
    what = {"video": "Watch the video", "audio": "Listen"}.get(tag, "See the embedded content")
    return _card(url, None, label, f"{what} ({escape(host)})")


def _youtube_id(parts: object) -> str | None:
    path = getattr(parts, "path", "")
    if getattr(parts, "hostname", "") == "youtu.be":
        return path.strip("/") or None
    match = YOUTUBE_ID.match(path)
    if match:
        return match.group(1)
    return (parse_qs(getattr(parts, "query", "")).get("v") or [None])[0]


def _card(href: str, thumbnail: str | None, label: str, action: str) -> str:
    link = escape(href, quote=True)
    picture = (
        f'<a href="{link}"><img src="{escape(thumbnail, quote=True)}" alt="{label}"></a><br>'
        if thumbnail
        else ""
    )
    title = f"{label}: " if label and not thumbnail else ""
    return f'<p class="embed">{picture}{title}<a href="{link}">{action}</a></p>'


def _is_prompt(element: etree._Element) -> bool:
    if PROMPT_CLASSES.search(element.get("class") or ""):
        return True
    if element.tag not in ("p", "a", "div"):
        return False
    text = " ".join(element.text_content().split())
    if not text or PROMPT_TEXT.match(text) is None:
        return False
    links = [a.get("href") or "" for a in element.iter("a")]
    return (
        element.tag != "p"
        or any("subscribe" in href or "action=share" in href for href in links)
        or text.lower().startswith("thanks for reading")
    )


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
