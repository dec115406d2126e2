"""Quiet hours (SMS_QUIET_HOURS): parsing, windows that wrap midnight, several time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, settings_from
from bot.domain.quiet_hours import BadQuietHours, QuietHours
from bot.sms.timezones import zones_for

JOBURG, NEW_YORK = ZoneInfo("Africa/Johannesburg"), ZoneInfo("America/New_York")
NIGHT = QuietHours.parse("21:00-08:00")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("text", ["21:00", "25:00-08:00", "9-17", "08:00-08:00", "21:60-08:00"])
def test_malformed_windows_are_refused(text: str) -> None:
    with pytest.raises(BadQuietHours):
        QuietHours.parse(text)


def test_the_setting_is_parsed_or_names_the_variable() -> None:
    assert settings_from({"SMS_QUIET_HOURS": " 21:00 - 8:00 "}).quiet_hours == NIGHT
    assert settings_from({}).quiet_hours is None
    with pytest.raises(ConfigError, match="SMS_QUIET_HOURS must be a window"):
        settings_from({"SMS_QUIET_HOURS": "nights"})


def test_a_window_across_midnight_holds_until_it_ends_locally() -> None:
    # 20:30 UTC is 22:30 in Johannesburg: quiet until 08:00 there, 06:00 UTC next day.
    assert NIGHT.held_until(utc(10, 20, 30), [JOBURG]) == utc(11, 6)
    assert NIGHT.held_until(utc(11, 5, 59), [JOBURG]) == utc(11, 6)
    assert NIGHT.held_until(utc(11, 6), [JOBURG]) is None
    assert NIGHT.held_until(utc(10, 18, 59), [JOBURG]) is None


def test_a_daytime_window() -> None:
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch.held_until(utc(10, 10, 15), [JOBURG]) == utc(10, 11, 30)
    assert lunch.held_until(utc(10, 11, 30), [JOBURG]) is None


def test_several_zones_hold_until_the_window_ended_in_all() -> None:
    # 04:00 UTC: 06:00 in Johannesburg (quiet until 06:00 UTC), 00:00 in New York (summer time
    # since 8 March: UTC-4), quiet there until 08:00 = 12:00 UTC.
    assert NIGHT.held_until(utc(10, 4), [JOBURG, NEW_YORK]) == utc(10, 12)


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 7 * 24 * 60))
def test_a_held_message_goes_when_it_is_no_longer_quiet(
    hour: int, minute: int, offset: int
) -> None:
    window = QuietHours.parse(f"{hour:02d}:{minute:02d}-{(hour + 9) % 24:02d}:{minute:02d}")
    moment = utc(1, 0) + timedelta(minutes=offset)
    until = window.held_until(moment, [JOBURG, NEW_YORK])
    if until is not None:
        assert until > moment and window.held_until(until, [JOBURG, NEW_YORK]) is None


def test_a_numbers_time_zones_come_from_its_country_code() -> None:
    assert zones_for("27821234567") == (JOBURG,)
    assert zones_for("12125550123") == (NEW_YORK,)
    assert zones_for("999") == (ZoneInfo("UTC"),)
