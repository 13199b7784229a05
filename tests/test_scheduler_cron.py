"""Cron fire times across daylight-saving changes (Europe/London, 2026): pure triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.config import ConfigError, parse
from dispatch.cron import cron_trigger
from dispatch.jobs import period_key

LONDON = "Europe/London"


def fires(expression: str, start: datetime, end: datetime) -> list[str]:
    """Fire times in [start, end] as the scheduler walks them (previous → next)."""
    trigger = cron_trigger(expression, LONDON)
    out, previous, now = [], None, start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire > end:
            return out
        assert previous is None or fire > previous, "fire times must move forward"
        out.append(fire.astimezone(UTC).strftime("%m-%d %H:%MZ"))
        previous, now = fire, fire + timedelta(seconds=1)


def test_seven_local_is_seven_utc_in_winter_and_six_utc_in_summer() -> None:
    march = fires("0 7 * * *", datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert march == ["03-27 07:00Z", "03-28 07:00Z", "03-29 06:00Z", "03-30 06:00Z"]
    october = fires(
        "0 7 * * *", datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    )
    assert october == ["10-23 06:00Z", "10-24 06:00Z", "10-25 07:00Z", "10-26 07:00Z"]


def test_a_time_the_clocks_skip_fires_once_an_hour_later() -> None:
    # 29 March 2026: 01:00 GMT → 02:00 BST; 01:30 does not exist that day.
    got = fires("30 1 * * *", datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert got == ["03-28 01:30Z", "03-29 01:30Z", "03-30 00:30Z"]  # 03-29: 02:30 BST


def test_a_time_the_clocks_repeat_fires_once_and_the_schedule_moves_on() -> None:
    # 25 October 2026: 02:00 BST → 01:00 GMT; 01:30 happens twice. APScheduler 3.11 alone
    # fires twice, then keeps answering 01:30 GMT (a scheduler stuck on one time).
    got = fires(
        "30 1 * * *", datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    )
    assert got == ["10-24 00:30Z", "10-25 00:30Z", "10-26 01:30Z"]
    every_20 = fires(
        "*/20 1 * * *", datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 25, 3, tzinfo=UTC)
    )
    assert every_20 == ["10-25 00:00Z", "10-25 00:20Z", "10-25 00:40Z"]


def test_period_keys_name_the_local_fire_time_and_differ_across_the_change() -> None:
    trigger = cron_trigger("0 7 * * *", LONDON)
    saturday = trigger.get_next_fire_time(None, datetime(2026, 3, 28, tzinfo=UTC))
    sunday = trigger.get_next_fire_time(saturday, saturday + timedelta(seconds=1))
    assert period_key("briefing", saturday, LONDON) == "digest:briefing:2026-03-28T07:00:00+00:00"
    assert period_key("briefing", sunday, LONDON) == "digest:briefing:2026-03-29T07:00:00+01:00"


def test_six_fields_put_seconds_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trigger = cron_trigger("15 0 7 * * *", LONDON)
    fire = trigger.get_next_fire_time(None, datetime(2026, 1, 5, tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC) == datetime(2026, 1, 5, 7, 0, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="expected 5 \\(or 6, seconds first\\)"):
        cron_trigger("0 7 * *", LONDON)
    raw = {
        "site": {"postal_address": "1 Street", "tag_authority": "example.org,2026"},
        "lists": [
            {
                "slug": "a",
                "name": "A",
                "from_name": "A",
                "from_email": "a@example.org",
                "schedule": "1 2 3 4 5 6 7",
            }
        ],
    }
    with pytest.raises(ConfigError, match=r"lists\[0\]\.schedule: .* is not a cron expression"):
        parse(raw, tmp_path / "config.toml")


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("0 7 * * 0", ["Sun"]),  # cron: 0 is Sunday (APScheduler alone would say Monday)
        ("0 7 * * 7", ["Sun"]),
        ("0 7 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0 7 * * */2", ["Sun", "Tue", "Thu", "Sat"]),
        ("0 7 * * 5-7", ["Fri", "Sat", "Sun"]),
        ("0 7 * * sat,1", ["Mon", "Sat"]),
        ("0 7 * * mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
    ],
)
def test_weekday_numbers_mean_what_they_mean_in_cron(expression: str, days: list[str]) -> None:
    trigger = cron_trigger(expression, "UTC")
    fire, seen = None, set()
    now = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday
    for _ in range(14):
        fire = trigger.get_next_fire_time(fire, now)
        assert fire is not None
        seen.add(fire.strftime("%a"))
        now = fire + timedelta(seconds=1)
    assert sorted(seen) == sorted(days)


def test_a_weekday_number_out_of_range_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import tomllib

    from dispatch.setup import default_config_text

    raw = tomllib.loads(default_config_text())
    raw["lists"][0]["schedule"] = "0 7 * * 8"
    with pytest.raises(ConfigError, match=r'day of week "8": expected 0-7'):
        parse(raw, tmp_path / "config.toml")
