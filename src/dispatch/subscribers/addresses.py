"""Email addresses: checked, normalised and put on the wire in this one module.

Every address that enters Dispatch (sign-up, import, admin, API, CLI, config, editors)
or is looked up (unsubscribe, suppression, webhooks, search) goes through
`normalise_address`, so the unique `subscribers.email` and `suppressions.email` columns
can be matched with a plain equality.

The stored form (RFC 6530–6532, IDNA 2008):
- syntax by email-validator (no DNS), which checks domains with the `idna` package
  (IDNA 2008, UTS #46 mapping: `ＥＸＡＭＰＬＥ.com` is `example.com`) and refuses
  invisible and bidirectional control characters;
- the domain in lower-case Unicode (U-labels) for people to read:
  `x@xn--bcher-kva.example` is stored as `x@bücher.example`;
- the local part NFC-normalised and lower-cased, so that `Ann@example.org` and
  `ann@example.org` are one subscriber. RFC 5321 lets a server tell them apart; no
  mailbox provider people sign up with does, and a second row per capitalisation
  sends duplicates and splits unsubscribes. Non-ASCII local parts are lower-cased the
  same way (`str.lower`, full Unicode case mapping: `ÅSA` → `åsa`), but not case-folded:
  folding turns `ß` into `ss` and `ς` into `σ`, which name other mailboxes;
- addresses that read as another one are refused (`lookalikes`): compatibility forms
  such as fullwidth letters in the local part, mixed scripts in a label or local part.

`wire_address` gives what senders put in `MAIL FROM`, `RCPT TO` and address headers:
the domain as A-labels, and whether the local part needs the server's SMTPUTF8.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from dispatch.errors import InvalidAddress
from dispatch.subscribers.lookalikes import lookalike_problem

# A stored address that is plain lower-case ASCII needs no second look on the way out
# (normalise_address made it; a domain with "xn--" could be a row stored before IDNA
# checks and gets one).
_PLAIN = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?!(?:.*\.)?xn--)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z"
)
SHOWN = 120  # characters of a refused input quoted in the error
# Most addresses have an ASCII dot-atom local part on one of a few domains: such a local
# part needs no more than this pattern and the length limits (and cannot mix scripts),
# and the domain, ASCII or not, is checked once by the full check (cached).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_INPUT = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>[^@\s\"\\]+)\Z")
LOCAL_MAX, ADDRESS_MAX = 64, 254  # RFC 5321 limits, as email-validator applies them


@dataclass(frozen=True, slots=True)
class WireAddress:
    """An address as it goes on the wire."""

    address: str  # the local part (normal form), "@", the domain as IDNA 2008 A-labels
    needs_smtputf8: bool  # the local part is not ASCII: only a server offering SMTPUTF8


@dataclass(frozen=True, slots=True)
class _Parts:
    local: str  # NFC, lower-case
    domain: str  # U-labels, lower-case
    ascii_domain: str  # A-labels


def normalise_address(raw: str) -> str:
    """The stored form of `raw`, or InvalidAddress saying why it cannot be one."""
    plain = _plain(raw.strip())
    if plain is not None:
        return plain
    parts = _parse(raw)
    return f"{parts.local}@{parts.domain}"


def _plain(candidate: str) -> str | None:
    """The stored form of a plain ASCII address whose domain is valid, else None (the
    full check then decides, and words its error). Same result as `_parse`: the
    hypothesis test in test_addresses compares the two."""
    found = _PLAIN_INPUT.match(candidate)
    if found is None or len(found["local"]) > LOCAL_MAX:
        return None
    checked = _plain_domain(found["domain"])
    if checked is None:
        return None
    domain, ascii_domain = checked
    if len(found["local"]) + 1 + max(len(ascii_domain), len(found["domain"])) > ADDRESS_MAX:
        return None
    return f"{found['local'].lower()}@{domain}"


@lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> tuple[str, str] | None:
    """The domain as stored and as A-labels, when the full check takes it."""
    try:
        checked = _validated(f"a@{domain}")
    except InvalidAddress:
        return None
    return checked.domain, checked.ascii_domain


def wire_address(email: str) -> WireAddress:
    """How the stored address `email` goes on the wire; InvalidAddress (with the reason)
    when it cannot be sent at all, e.g. a row stored before these checks existed."""
    if _PLAIN.match(email):
        return WireAddress(email, needs_smtputf8=False)
    parts = _parse(email)
    return WireAddress(f"{parts.local}@{parts.ascii_domain}", not parts.local.isascii())


def stored_form(raw: str) -> str | None:
    """What `raw` would be stored as, or None when it cannot be an address (so it
    matches no subscriber and no suppression)."""
    try:
        return normalise_address(raw)
    except InvalidAddress:
        return None


def clean_name(raw: str) -> str:
    """A display name with runs of whitespace (CR and LF included) collapsed to one space.

    Names reach the `To:` header, where CR and LF must never appear.
    """
    return " ".join(raw.split())


def _parse(raw: str) -> _Parts:
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("empty email address")
    checked = _validated(candidate)
    if checked.local.isascii():
        return _Parts(checked.local.lower(), checked.domain, checked.ascii_domain)
    lowered = unicodedata.normalize("NFC", checked.local.lower())
    if lowered == checked.local:
        return checked
    # A lower-case letter can take more room than its capital (İ → i̇): check again.
    again = _validated(f"{lowered}@{checked.domain}", shown=candidate)
    return _Parts(again.local, again.domain, again.ascii_domain)


def _validated(candidate: str, shown: str | None = None) -> _Parts:
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _refused(shown or candidate, str(exc)) from exc
    local, domain = result.local_part, result.domain
    if not (local.isascii() and domain.isascii()):
        problem = lookalike_problem(local, domain.split("."))
        if problem:
            raise _refused(shown or candidate, f"{problem}.")
    return _Parts(local, domain, result.ascii_domain)


def _refused(candidate: str, reason: str) -> InvalidAddress:
    shown = _printable(candidate[:SHOWN] + ("…" if len(candidate) > SHOWN else ""))
    return InvalidAddress(f'"{shown}" is not a usable email address: {reason}', reason)


def _printable(text: str) -> str:
    """`text` with invisible and direction-changing characters spelled out, so that an
    error message shows the address as it is, not as those characters make it look."""
    return "".join(
        f"<U+{ord(char):04X}>" if unicodedata.category(char)[0] in "CZ" and char != " " else char
        for char in text
    )
