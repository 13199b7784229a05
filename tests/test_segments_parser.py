"""The segment language: what parses to what, and what is refused where (no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dispatch.errors import SegmentError
from dispatch.segments import parse
from dispatch.segments import syntax as s

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_the_example_from_the_issue_parses_to_one_and() -> None:
    node = parse(
        'tag in ("lisbon", "porto") and not tag = "vip" and attr.city = "Lisbon" '
        'and attr.plan contains "pro" and attr.birthday before 2000-01-01 '
        "and subscribed after 2026-11-01 and bounced never and opened never"
    )
    assert node == s.And(
        (
            s.HasTag(("lisbon", "porto")),
            s.Not(s.HasTag(("vip",))),
            s.AttrCompare("city", "=", "Lisbon"),
            s.AttrContains("plan", "pro"),
            s.AttrDate("birthday", "before", s.DateLit(date(2000, 1, 1))),
            s.Subscribed("after", s.DateLit(date(2026, 11, 1))),
            s.Activity("bounced", False),
            s.Activity("opened", False),
        )
    )


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    a, b, c = (s.HasTag((x,)) for x in "abc")
    assert parse('tag = "a" or tag = "b" and tag = "c"') == s.Or((a, s.And((b, c))))
    assert parse('(tag = "a" or tag = "b") and tag = "c"') == s.And((s.Or((a, b)), c))
    assert parse('not not tag = "a"') == s.Not(s.Not(a))


def test_keywords_are_case_insensitive_tags_lower_cased_values_kept() -> None:
    node = parse('TAG IN ("Lisbon", "LISBON ", "porto",) AND Attr.City = "Lisbon"')
    assert node == s.And((s.HasTag(("lisbon", "porto")), s.AttrCompare("City", "=", "Lisbon")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attr.age >= 30", s.AttrCompare("age", ">=", 30)),
        ("attr.score < -1.5", s.AttrCompare("score", "<", -1.5)),
        ("attr.vip = true", s.AttrCompare("vip", "=", True)),
        ("attr.vip != FALSE", s.AttrCompare("vip", "!=", False)),
        ('attr.size = "groß"', s.AttrCompare("size", "=", "groß")),
        ("attr.first-name exists", s.AttrExists("first-name")),
        ('tag not in ("a")', s.Not(s.HasTag(("a",)))),
        ('tag != "a"', s.Not(s.HasTag(("a",)))),
        ("subscribed before 30 days ago", s.Subscribed("before", s.Ago(30, "day"))),
        ("subscribed after 1 week ago", s.Subscribed("after", s.Ago(1, "week"))),
        ("subscribed after today", s.Subscribed("after", s.Today())),
        (
            "subscribed after 2026-11-01T08:30+01:00",
            s.Subscribed("after", s.InstantLit(datetime(2026, 11, 1, 7, 30, tzinfo=UTC))),
        ),
        ("complained ever", s.Activity("complained", True)),
        ("clicked never", s.Activity("clicked", False)),
    ],
)
def test_conditions(text: str, expected: s.Node) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("", 1, "empty"),
        ('tag = "x"; DROP TABLE subscribers', 10, 'unexpected ";"'),
        ("tag = 'x'", 7, "double quotes"),
        ('attr.city = "Lisbon" -- comment', 22, 'unexpected "--"'),
        ('attr.city = "Lisbon" /* x */', 22, "unexpected"),
        ('tag in ("a"', 12, 'closing ")"'),
        ('tag = "open', 7, "never closed"),
        ('attr.x > "a"', 10, "compares numbers only"),
        ("subscribed after 3 days", 24, '"ago"'),
        ("attr.a.b = 1", 1, "attr.NAME"),
        ('tag = "a,b"', 7, "separate tags"),
        ('tag = ""', 7, "cannot be empty"),
        ("((((", 5, "expected a condition"),
        ("attr.x = 1e5", 10, "1e5"),
        ("attr.x = 0x10", 10, "0x10"),
        ("subscribed after 2026-02-30", 18, "not a calendar date"),
        ('tag = "a" tag = "b"', 11, '"and", "or"'),
        ('tag = "a" and', 14, "expected a condition"),
        ("bounced sometimes", 9, '"ever" or "never"'),
        ('tag = "a\x00"', 9, "U+0000"),
        ('tag = "a\\n"', 9, "escapes only"),
        ("attr.x = 12345678901234567890", 10, "too large"),
        ('email = "a@b"', 1, "expected a condition"),
        ('tag = "x" \uff1b', 11, "unexpected"),  # a full-width semicolon
        ("attr.city = “Lisbon”", 13, "unexpected"),  # typographic quotes
    ],
)
def test_errors_name_the_column(text: str, column: int, says: str) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    assert caught.value.column == column, str(caught.value)
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"column {column}: ")


def test_quotes_semicolons_and_sql_inside_a_string_are_plain_text() -> None:
    hostile = "x\" or 1=1; DROP TABLE subscribers; --'"
    escaped = hostile.replace("\\", "\\\\").replace('"', '\\"')
    assert parse(f'attr.city = "{escaped}"') == s.AttrCompare("city", "=", hostile)
    assert parse('attr.a contains "\\\\"') == s.AttrContains("a", "\\")


def test_limits_length_nesting_and_list_size() -> None:
    with pytest.raises(SegmentError, match="at most 4,000"):
        parse('tag = "a" or ' * 400 + 'tag = "a"')
    with pytest.raises(SegmentError, match="nested more than"):
        parse("(" * 60 + 'tag = "a"' + ")" * 60)
    with pytest.raises(SegmentError, match="more than 200 values"):
        parse("tag in (" + ", ".join(f'"t{i}"' for i in range(250)) + ")")


def test_relative_and_day_bounds_exclude_the_day_itself() -> None:
    before, after = s.bounds(s.DateLit(date(2026, 11, 1)), NOW)
    assert before == datetime(2026, 11, 1, tzinfo=UTC)
    assert after == datetime(2026, 11, 2, tzinfo=UTC)
    assert s.bounds(s.Today(), NOW)[0] == datetime(2026, 11, 28, tzinfo=UTC)
    assert s.Ago(30, "day").resolve(NOW) == datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
    assert s.day_of(s.Ago(2, "week"), NOW) == date(2026, 11, 14)
