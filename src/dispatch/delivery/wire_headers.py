"""Headers of the fast path, written directly as the bytes they must be.

Each function gives what a reader parsing with `email.policy.default` would read from
`mime.build_message`'s headers, without the header registry's cost per recipient:
CR, LF and NUL are removed first (`mime.header_text`), display names are quoted when
they hold specials and RFC 2047-encoded when not printable ASCII, and the one-click
unsubscribe URL is never encoded (mail clients could not use it).

Two deliberate differences from the standard library's output: a name that looks
like an encoded word ("=?utf-8?q?…?=") is encoded, so readers see it literally
instead of decoding it; and a long Subject is split into encoded words of at most
75 characters (RFC 2047), where Python's 998-column wire policy writes one.
"""

from __future__ import annotations

import re
from email.charset import Charset
from email.header import Header
from email.headerregistry import Address
from urllib.parse import quote

from dispatch.delivery.mime import header_text
from dispatch.errors import InvalidAddress
from dispatch.subscribers.addresses import wire_address

MAX_LINE = 998
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\Z")
_SPACES = re.compile(r"([ \t]+)")
_URL_SAFE = re.compile(r"[A-Za-z0-9!#$%&'()*+,\-./:;=?@\[\]_~]+\Z")
_URL_KEEP = "!#$%&'()*+,-./:;=?@[]_~"
_UTF8 = Charset("utf-8")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # RFC 6532: UTF-8 is atext in a local part


def mailbox(email: str, name: str = "") -> str:
    """`Name <local@domain>` as `mime.Mailbox` means it: CR/LF/NUL removed, the name
    quoted when it has specials and RFC 2047-encoded when it is not printable ASCII.

    The domain is written as IDNA A-labels; a non-ASCII local part stays UTF-8 (RFC 6532),
    which only a server offering SMTPUTF8 may be given (the SMTP sender checks)."""
    address = header_text(email).strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f'"{email}" is not an email address')
    try:
        address = wire_address(address).address
    except UnicodeError as exc:
        raise InvalidAddress(f'"{email}": the domain has no IDNA form ({exc})') from exc
    local, _, domain = address.rpartition("@")
    if not _DOT_ATOM.match(domain):
        raise InvalidAddress(f'"{email}": "{domain}" is not a domain name')
    if not _DOT_ATOM.match(_NON_ASCII.sub("a", local)):
        address = Address(username=local, domain=domain).addr_spec  # quotes the local part
    name = header_text(name).strip()
    if not name:
        return address
    if _plain(name):
        if _SPECIALS.search(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{address}>"
    return f"{phrase_words(name)} <{address}>"


def phrase_words(name: str) -> str:
    """A display name that is not plain ASCII: runs of words that need it become one
    RFC 2047 encoded word each, plain words stay readable (as the standard library
    writes them). A run is never split, as Python's address parser would read a space
    into the gap; only a run too long for a 998-byte line is folded into 75-byte words."""
    out: list[str] = []
    run: list[str] = []
    for token in _SPACES.split(name):
        if token[:1] in " \t" or not _ATOM.match(token) or "=?" in token:
            run.append(token)
            continue
        if run:
            out.extend(_encoded_run(run))
        run = []
        out.append(token)
    out.extend(_encoded_run(run))
    return "".join(out)


def _encoded_run(tokens: list[str]) -> list[str]:
    """Tokens (words and the spaces between them) after the last plain word."""
    lead: list[str] = []
    while tokens and tokens[0][:1] in " \t":
        lead.append(tokens.pop(0))
    trail: list[str] = []
    while tokens and tokens[-1][:1] in " \t":
        trail.insert(0, tokens.pop())
    if not tokens:
        return lead + trail
    text = "".join(tokens)
    word = _UTF8.header_encode(text)
    if len(word) > 900:
        word = Header(text, "utf-8", header_name="To").encode(linesep="\r\n")
    return [*lead, word, *trail]


def unstructured(name: str, text: str) -> bytes:
    """A text header (Subject): folded at spaces, or as encoded words when not ASCII."""
    if _plain(text) and len(max(text.split(), key=len, default="")) < 900:
        value = Header(text, "us-ascii", header_name=name).encode(linesep="\r\n")
    else:
        value = encoded_words(text, name)
    return f"{name}: {value}\r\n".encode("ascii")


def list_id_header(value: str) -> bytes:
    """List-Id (`mime.list_id`): the name part encoded like a Subject, the id as is."""
    name, _, rest = value.rpartition(" <")
    if not name:
        return f"List-Id: <{rest}\r\n".encode("ascii")
    words = name if _plain(name) else encoded_words(name, "List-Id")
    return f"List-Id: {words} <{rest}\r\n".encode("ascii")


def encoded_words(text: str, header: str = "To") -> str:
    """RFC 2047 encoded words for `text`, each at most 75 characters, folded."""
    word = _UTF8.header_encode(text)
    if len(word) <= 75:
        return word
    return Header(text, "utf-8", header_name=header).encode(linesep="\r\n")


def _plain(text: str) -> bool:
    """Printable ASCII (tabs too) that no mail reader would take for an encoded word."""
    return text.isascii() and text.replace("\t", " ").isprintable() and "=?" not in text


def unsubscribe_header(url: str, mailto: str = "") -> bytes:
    """`List-Unsubscribe: <https URL>[, <mailto:…>]`, never RFC 2047-encoded."""
    url = header_text(url).strip()
    if not url[:8].lower().startswith(("https://", "http://")):
        raise ValueError(f"List-Unsubscribe needs an http(s) URL, got {url!r}")
    if not _URL_SAFE.match(url):
        url = quote(url, safe=_URL_KEEP)
    line = f"List-Unsubscribe: <{url}>"
    if len(line) > MAX_LINE:
        raise ValueError(f"unsubscribe URL of {len(url)} characters does not fit a header line")
    if mailto:
        link = f"<mailto:{mailto}>"
        line += (",\r\n " if len(line) + len(link) + 2 > MAX_LINE else ", ") + link
    return line.encode("ascii") + b"\r\n"
