"""Segments: saved filters over a list's subscribers, in a small safe language.

Grammar (keywords case-insensitive)::

    expression := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expression ")" | condition
    condition  := "tag" ("=" | "!=") STRING
                | "tag" ["not"] "in" "(" STRING ("," STRING)* [","] ")"
                | ATTR ("=" | "!=") value
                | ATTR ("<" | "<=" | ">" | ">=") NUMBER
                | ATTR "contains" STRING
                | ATTR ("before" | "after") when
                | ATTR "exists"
                | "subscribed" ("before" | "after") when
                | ("bounced" | "complained" | "opened" | "clicked") ("ever" | "never")
    value      := STRING | NUMBER | "true" | "false"
    when       := DATE | TIME | "today" | INTEGER ("hour"|"hours"|"day"|"days"|"week"|"weeks") "ago"
    STRING     := '"' (any character but `"`, `\\` and control characters | '\\"' | '\\\\')* '"'
    ATTR       := "attr." NAME     (NAME: an ASCII letter, then ASCII letters, digits,
                                    `_`, inner `-`)
    NUMBER     := ["-"] DIGITS ["." DIGITS]
    DATE       := YYYY-MM-DD       TIME := YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] (no offset: UTC)

Meaning:
- `tag = "x"`: carries tag x; `tag in (…)`: any of them; `!=` and `not in` are their
  negations. Tags are lower-cased on both sides, so case never matters for tags.
- Attributes are typed JSON values. A string test matches only a string attribute,
  a number test only a number, `true`/`false` only a boolean; a missing attribute
  matches nothing but `!=` (which is exactly `not =`). String equality and `contains`
  are exact and case-sensitive. `before`/`after` read a string attribute starting with
  a date (`1990-05-01…`) and compare days. `exists`: present and not null.
- `subscribed`: when the person joined the list (confirmed, else signed up).
- Days are UTC days and exclude themselves on both sides: `before 2026-11-01` is
  earlier than its midnight, `after 2026-11-01` is from the next midnight on; a time
  (`2026-11-01T08:00Z`, `30 days ago`) is exact.
- `bounced` (hard or soft), `complained`, `opened`, `clicked`: events recorded for the
  person (from any provider; Dispatch itself adds no open pixels), on any list.
"""

from __future__ import annotations

from dispatch.segments.compiler import compile_segment
from dispatch.segments.parser import parse

__all__ = ["compile_segment", "parse"]
