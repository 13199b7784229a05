"""Addresses that read as another address: compatibility forms and mixed scripts.

An address is something people read and type. email-validator (syntax, RFC 6531) and
IDNA 2008 (domains) accept two kinds of characters that make one read as another:

- Compatibility forms (fullwidth `ｖ`, ligatures `ﬁ`, superscripts), which NFKC
  changes. In a domain, IDNA's UTS #46 mapping already turns them into the plain letters,
  so the stored domain is the one the reader sees. In a local part nothing does:
  `ｖictim` would be another mailbox than `victim`, so such a local part is refused.
- Letters of several scripts in one domain label or local part (`exаmple` with a
  Cyrillic `а`). Allowed are one script, with the characters every script shares
  (digits, punctuation, combining marks), and the mixes Japanese, Chinese and Korean
  writing need, with Latin (UTS #39 "highly restrictive"). Scripts come from
  confusable_homoglyphs' copy of Unicode's Scripts.txt. A label wholly in one script is
  accepted even when it could pass for a word in another (`аррӏе`): that is the domain
  registry's policy to make, and Russian or Greek addresses must work.

Invisible and bidirectional control characters never get this far: email-validator
refuses every character of Unicode categories C and Z ("unsafe characters").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from confusable_homoglyphs.categories import alias

SHARED = frozenset({"COMMON", "INHERITED"})
MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def lookalike_problem(local: str, labels: Iterable[str]) -> str | None:
    """Why an address with this local part and these domain labels (Unicode) would read
    as another address, or None when it would not."""
    problem = compatibility_problem(local)
    if problem:
        return f"the part before the @-sign has {problem}"
    problem = mixed_script_problem(local)
    if problem:
        return f"the part before the @-sign {problem}"
    for label in labels:
        problem = mixed_script_problem(label)
        if problem:
            return f'the domain label "{label}" {problem}'
    return None


def compatibility_problem(text: str) -> str | None:
    """The first character NFKC would change, said with what to type instead."""
    if unicodedata.is_normalized("NFKC", text):
        return None
    for char in text:
        plain = unicodedata.normalize("NFKC", char)
        if plain != char:
            return (
                f'"{char}" ({describe(char)}), a fullwidth or compatibility form of "{plain}":'
                f' type "{plain}" instead'
            )
    return "characters in a compatibility form: type them as plain letters"


def mixed_script_problem(text: str) -> str | None:
    """How `text` mixes scripts in a way UTS #39 would not allow, or None."""
    found: dict[str, list[str]] = {}  # script → its characters, in order of appearance
    for char in text:
        script = alias(char)
        if script not in SHARED:
            found.setdefault(script, []).append(char)
    scripts = frozenset(found)
    if len(scripts) <= 1 or any(scripts <= mix for mix in MIXES):
        return None
    names = " and ".join(script.title() for script in found)
    stranger = min(found.values(), key=len)[0]  # a letter of the least used script
    return (
        f'mixes {names} letters ("{stranger}" is {describe(stranger)}),'
        f" so it can pass for another address"
    )


def describe(char: str) -> str:
    return unicodedata.name(char, f"U+{ord(char):04X}")
