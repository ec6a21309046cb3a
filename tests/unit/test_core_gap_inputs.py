"""Core inputs at the edges: periods at the ends of the calendar, RFC 3339 round trips, amounts written
the way only Python reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fairtel.core import InvalidInputError, Money, Period, format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(("year", "month"), [(0, 1), (9999, 12), (10000, 1), (-1, 6)])
def test_a_period_outside_the_calendar_is_an_input_error_naming_the_year(year: int, month: int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Period(year, month)
    assert [(p.field, p.code) for p in caught.value.problems] == [("year", "invalid")]
    assert caught.value.code == "input_invalid"


def test_the_first_and_last_periods_have_a_start_an_end_and_days() -> None:
    first, last = Period(1, 1, "UTC"), Period(9999, 11, "UTC")
    assert first.start == datetime(1, 1, 1, tzinfo=ZoneInfo("UTC")) and first.days == 31
    assert last.end == datetime(9999, 12, 1, tzinfo=ZoneInfo("UTC")) and last.days == 30
    with pytest.raises(InvalidInputError):
        last.next()
    with pytest.raises(InvalidInputError):
        first.previous()
    with pytest.raises(InvalidInputError):
        Period.parse("0000-01")


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 11, 1, 8, 0, 0, 1, tzinfo=UTC),
        datetime(1890, 6, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")),  # local mean time, +08:05:43
        datetime(1900, 1, 1, 12, 0, 0, 500000, tzinfo=ZoneInfo("Europe/Amsterdam")),  # +00:19:32
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    ],
)
def test_format_rfc3339_round_trips_through_parse(instant: datetime) -> None:
    text = format_rfc3339(instant)
    back = parse_rfc3339(text)
    assert back == instant
    assert back.microsecond == instant.microsecond


def test_format_rfc3339_keeps_whole_minute_offsets_and_whole_seconds_short() -> None:
    assert format_rfc3339(datetime(2026, 11, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))) == "2026-11-01T08:00:00+08:00"
    assert format_rfc3339(datetime(2026, 11, 1, 8, 0, 0, 250000, tzinfo=UTC)) == "2026-11-01T08:00:00.250000+00:00"
    assert format_rfc3339(datetime(1890, 6, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))) == "1890-06-01T03:54:17+00:00"


@pytest.mark.parametrize("text", ["1_000", "1_000.00", "0.0_5", "١٠", "１２"])
def test_money_refuses_amounts_only_python_reads(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal amount"):
        Money.of(text, "CNY")


def test_money_still_reads_plain_decimal_strings() -> None:
    assert Money.of("1000.50", "CNY").to_minor() == 100050
    assert Money.of("-0.05", "CNY").to_minor() == -5
