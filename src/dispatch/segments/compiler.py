"""Segment syntax → one SQLAlchemy condition over `subscribers` joined to `subscriptions`.

Every value from the expression is a bound parameter (attribute names included: they are
JSON keys and paths, passed as parameters); no user text ever becomes SQL.

Both stores give the same answers because each predicate is never NULL (NOT then means
"not", as in Python) and typed: an attribute matches a string test only when it holds a
JSON string, a number test only when it holds a JSON number, `true`/`false` only a JSON
boolean. The type test runs before the value is read (a CASE), so PostgreSQL never
casts a string to a number. String comparison is exact (case-sensitive, code point by
code point: `contains` is `instr` / `strpos`, never LIKE, whose case rules differ).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    Numeric,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from dispatch.segments import syntax as s
from dispatch.store.models import Event, Subscriber, SubscriberTag, Subscription

Condition = ColumnElement[bool]
ACTIVITY_TYPES = {
    "bounced": ("bounced", "soft_bounced"),
    "complained": ("complained",),
    "opened": ("opened",),
    "clicked": ("clicked",),
}
DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"
DATE_REGEX = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def compile_segment(node: s.Node, dialect: str, now: datetime) -> Condition:
    """The condition for `node` on `dialect` ("sqlite" or "postgresql") at time `now`."""
    return _Compiler(dialect, now).node(node)


class _Compiler:
    def __init__(self, dialect: str, now: datetime) -> None:
        self.json = _PgJson() if dialect == "postgresql" else _SqliteJson()
        self.now = now
        self.postgresql = dialect == "postgresql"

    def among(self, person: ColumnElement[Any], where: Condition) -> Condition:
        """Subscribers with a row in another table (tags, events) matching `where`.

        PostgreSQL plans EXISTS as a hash (anti-)semi-join; SQLite runs a correlated
        EXISTS once per subscriber, but `id IN (SELECT …)` once (the subquery is built
        into a temporary index). The ids are never NULL, so NOT IN is safe there."""
        if self.postgresql:
            return exists().where(person == Subscriber.id, where)
        return Subscriber.id.in_(select(person).where(where))

    def node(self, node: s.Node) -> Condition:
        match node:
            case s.And(parts):
                return and_(*(self.node(part) for part in parts))
            case s.Or(parts):
                return or_(*(self.node(part) for part in parts))
            case s.Not(inner):
                return not_(self.node(inner))
            case s.HasTag(tags):
                return self.among(SubscriberTag.subscriber_id, SubscriberTag.tag.in_(tags))
            case s.Subscribed(op, when):
                return _time(_joined(), op, when, self.now)
            case s.Activity(kind, ever):
                found = self.among(Event.subscriber_id, Event.type.in_(ACTIVITY_TYPES[kind]))
                return found if ever else ~found
        return self.attribute(node)

    def attribute(self, node: s.Node) -> Condition:
        json = self.json
        match node:
            case s.AttrExists(name):
                return func.coalesce(json.kind(name), "null").notin_(("null",))
            case s.AttrContains(name, text):
                return _never_null(json.position(json.text(name), text) > 0)
            case s.AttrDate(name, op, when):
                day = s.day_of(when, self.now).isoformat()
                value = json.date(name)
                return _never_null(value < day if op == "before" else value > day)
            case s.AttrCompare(name, op, value):
                return _never_null(_compare(json, name, op, value))
        raise TypeError(f"not a segment node: {node!r}")


def _compare(json: _Json, name: str, op: str, value: s.Scalar) -> Condition:
    if op == "!=":
        return not_(_never_null(_compare(json, name, "=", value)))
    if isinstance(value, bool):
        return json.kind(name) == ("true" if value else "false")
    column = json.text(name) if isinstance(value, str) else json.number(name)
    operations: dict[str, Any] = {
        "=": column.__eq__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return operations[op](value)


def _never_null(condition: Condition) -> Condition:
    return func.coalesce(condition, false())


def _joined() -> ColumnElement[Any]:
    return func.coalesce(Subscription.confirmed_at, Subscription.created_at)


def _time(column: ColumnElement[Any], op: str, when: s.When, now: datetime) -> Condition:
    before, after = s.bounds(when, now)
    limit = type_coerce(before if op == "before" else after, Subscription.created_at.type)
    return column < limit if op == "before" else column >= limit


class _Json:
    """Typed reads of one attribute; `kind` is normalised to SQLite's json_type names
    (text, integer, real, true, false, null) so callers need not care which store."""

    def kind(self, name: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def text(self, name: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def number(self, name: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def date(self, name: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def position(self, haystack: ColumnElement[Any], needle: str) -> ColumnElement[Any]:
        raise NotImplementedError


class _SqliteJson(_Json):
    def _path(self, name: str) -> str:
        return f'$."{name}"'  # names never hold `"` (the tokenizer's rule)

    def kind(self, name: str) -> ColumnElement[Any]:
        return func.json_type(Subscriber.attributes, self._path(name))

    def text(self, name: str) -> ColumnElement[Any]:
        value = func.json_extract(Subscriber.attributes, self._path(name), type_=String)
        return case((self.kind(name) == "text", value), else_=None)

    def number(self, name: str) -> ColumnElement[Any]:
        value = func.json_extract(Subscriber.attributes, self._path(name), type_=Float)
        return case((self.kind(name).in_(("integer", "real")), value), else_=None)

    def date(self, name: str) -> ColumnElement[Any]:
        text = self.text(name)
        return case((text.op("GLOB")(DATE_GLOB), func.substr(text, 1, 10)), else_=None)

    def position(self, haystack: ColumnElement[Any], needle: str) -> ColumnElement[Any]:
        return func.instr(haystack, needle)


class _PgJson(_Json):
    def _value(self, name: str) -> ColumnElement[Any]:
        return Subscriber.attributes[name]

    def kind(self, name: str) -> ColumnElement[Any]:
        raw = func.jsonb_typeof(self._value(name))
        text = Subscriber.attributes[name].as_string()
        return case(
            (raw == "string", "text"),
            (raw == "number", "integer"),
            (and_(raw == "boolean", text == "true"), "true"),
            (raw == "boolean", "false"),
            else_=raw,
        )

    def text(self, name: str) -> ColumnElement[Any]:
        raw = func.jsonb_typeof(self._value(name))
        return case((raw == "string", Subscriber.attributes[name].as_string()), else_=None)

    def number(self, name: str) -> ColumnElement[Any]:
        raw = func.jsonb_typeof(self._value(name))
        value = cast(Subscriber.attributes[name].as_string(), Numeric)
        return case((raw == "number", value), else_=None)

    def date(self, name: str) -> ColumnElement[Any]:
        text = self.text(name)
        day = func.substr(text, 1, 10).collate("C")
        return case((text.op("~")(DATE_REGEX), day), else_=None)

    def position(self, haystack: ColumnElement[Any], needle: str) -> ColumnElement[Any]:
        return func.strpos(haystack, needle)
