"""A recursive-descent parser for segment expressions (the grammar is in `__init__`).

Every error is a `SegmentError` with the 1-based column of the token it concerns.
Keywords are case-insensitive; tags are compared lower-cased; attribute names and
string values are kept exactly as written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from dispatch.errors import SegmentError, TagError
from dispatch.segments import syntax as s
from dispatch.segments.tokens import Token, tokenize
from dispatch.subscribers.tags import normalise_tag

MAX_DEPTH = 40  # nested parentheses / nots
MAX_IN = 200  # values in one `in (…)`
NAME_MAX = 200  # characters in an attribute name, as the API allows
COMPARE = ("=", "!=", "<", "<=", ">", ">=")


def parse(source: str) -> s.Node:
    if not source.strip():
        raise SegmentError("the expression is empty (a segment needs at least one condition)", 1)
    return _Parser(tokenize(source)).parse()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    # -- token helpers --------------------------------------------------------
    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.peek.kind == "WORD" and self.peek.text.lower() in words

    def expect_word(self, *words: str) -> str:
        if not self.at_word(*words):
            raise self.error(f"expected {_either(words)}")
        return self.advance().text.lower()

    def expect(self, kind: str, text: str | None = None, what: str = "") -> Token:
        token = self.peek
        if token.kind != kind or (text is not None and token.text != text):
            raise self.error(f"expected {what or text or kind.lower()}")
        return self.advance()

    def error(self, message: str, token: Token | None = None) -> SegmentError:
        token = token or self.peek
        found = "the end" if token.kind == "END" else f'"{token.text}"'
        if token.kind == "STRING":
            found = f'the string "{token.text[:30]}"'
        return SegmentError(f"{message}, found {found}", token.column)

    # -- grammar ---------------------------------------------------------------
    def parse(self) -> s.Node:
        node = self.or_expr()
        if self.peek.kind != "END":
            raise self.error('expected "and", "or" or the end')
        return node

    def or_expr(self) -> s.Node:
        parts = [self.and_expr()]
        while self.at_word("or"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else s.Or(tuple(parts))

    def and_expr(self) -> s.Node:
        parts = [self.not_expr()]
        while self.at_word("and"):
            self.advance()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else s.And(tuple(parts))

    def not_expr(self) -> s.Node:
        if self.at_word("not"):
            self.advance()
            return s.Not(self.nested(self.not_expr))
        return self.atom()

    def nested(self, rule):  # type: ignore[no-untyped-def]
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep")
        try:
            return rule()
        finally:
            self.depth -= 1

    def atom(self) -> s.Node:
        token = self.peek
        if token.kind == "PUNCT" and token.text == "(":
            self.advance()
            node = self.nested(self.or_expr)
            self.expect("PUNCT", ")", 'a closing ")"')
            return node
        if token.kind == "ATTR":
            return self.attribute()
        if self.at_word("tag"):
            return self.tag()
        if self.at_word("subscribed"):
            self.advance()
            op = self.expect_word("before", "after")
            return s.Subscribed(op, self.when())
        if self.at_word(*s.ACTIVITIES):
            kind = self.advance().text.lower()
            return s.Activity(kind, self.expect_word("ever", "never") == "ever")
        raise self.error(
            "expected a condition: tag …, attr.NAME …, subscribed …, bounced …, complained …, "
            'opened …, clicked … or "("'
        )

    def tag(self) -> s.Node:
        self.advance()
        if self.peek.kind == "OP" and self.peek.text in ("=", "!="):
            negated = self.advance().text == "!="
            node = s.HasTag((self.tag_value(),))
            return s.Not(node) if negated else node
        negated = self.at_word("not")
        if negated:
            self.advance()
        self.expect_word("in")
        node = s.HasTag(self.tag_list())
        return s.Not(node) if negated else node

    def tag_list(self) -> tuple[str, ...]:
        self.expect("PUNCT", "(", 'an opening "("')
        values = [self.tag_value()]
        while self.peek.kind == "PUNCT" and self.peek.text == ",":
            self.advance()
            if self.peek.kind == "PUNCT" and self.peek.text == ")":
                break  # a trailing comma
            values.append(self.tag_value())
            if len(values) > MAX_IN:
                raise self.error(f"more than {MAX_IN} values in one list")
        self.expect("PUNCT", ")", 'a closing ")"')
        return tuple(dict.fromkeys(values))

    def tag_value(self) -> str:
        token = self.expect("STRING", what="a tag in double quotes")
        try:
            return normalise_tag(token.text)
        except TagError as exc:
            raise SegmentError(str(exc), token.column) from None

    def attribute(self) -> s.Node:
        token = self.advance()
        name = token.text
        if len(name) > NAME_MAX:
            raise SegmentError(f"an attribute name has at most {NAME_MAX} characters", token.column)
        if self.peek.kind == "OP":
            return self.compare(name)
        word = self.expect_word("contains", "before", "after", "exists")
        if word == "exists":
            return s.AttrExists(name)
        if word == "contains":
            text = self.expect("STRING", what="a string in double quotes").text
            return s.AttrContains(name, text)
        return s.AttrDate(name, word, self.when())

    def compare(self, name: str) -> s.Node:
        op_token = self.advance()
        value_token = self.peek
        value = self.scalar()
        if op_token.text not in ("=", "!=") and not _is_number(value):
            raise self.error(f'"{op_token.text}" compares numbers only', value_token)
        return s.AttrCompare(name, op_token.text, value)

    def scalar(self) -> s.Scalar:
        token = self.peek
        if token.kind == "STRING":
            return self.advance().text
        if token.kind == "NUMBER":
            self.advance()
            return _float(token) if "." in token.text else _integer(token)
        if self.at_word("true", "false"):
            return self.advance().text.lower() == "true"
        raise self.error("expected a value: a string in double quotes, a number, true or false")

    def when(self) -> s.When:
        token = self.peek
        if token.kind == "DATE":
            self.advance()
            return s.DateLit(_date(token))
        if token.kind == "INSTANT":
            self.advance()
            return s.InstantLit(_instant(token))
        if self.at_word("today"):
            self.advance()
            return s.Today()
        if token.kind == "NUMBER" and token.text.isdigit():
            self.advance()
            unit = self.expect_word("hour", "hours", "day", "days", "week", "weeks")
            self.expect_word("ago")
            return s.Ago(_integer(token, limit=100_000), unit.rstrip("s"))
        raise self.error(
            'expected a date (2026-11-01), a time (2026-11-01T08:00Z), "today" or "N days ago"'
        )


def _either(words: tuple[str, ...]) -> str:
    quoted = [f'"{word}"' for word in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _is_number(value: s.Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(token: Token, limit: int = 2**53) -> int:
    value = int(token.text)
    if abs(value) > limit:
        raise SegmentError(f"{token.text} is too large (at most {limit:,})", token.column)
    return value


def _float(token: Token) -> float:
    value = float(token.text)
    if abs(value) > 2**53:
        raise SegmentError(f"{token.text} is too large (at most {2**53:,})", token.column)
    return value


def _date(token: Token) -> date:
    try:
        return date.fromisoformat(token.text)
    except ValueError:
        raise SegmentError(f"{token.text} is not a calendar date", token.column) from None


def _instant(token: Token) -> datetime:
    try:
        at = datetime.fromisoformat(token.text.replace("Z", "+00:00"))
    except ValueError:
        raise SegmentError(f"{token.text} is not a valid time", token.column) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
