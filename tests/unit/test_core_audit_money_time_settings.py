"""Audit of core: exact money, elapsed time across DST, strict offsets, refused dangerous settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fairtel.core import ConfigError, Environment, Money, Period, Rounding, load_settings, parse_rfc3339
from fairtel.core.time import BadTimeError, seconds_between

# 31 significant digits: more than the 28 the default decimal context keeps.
JUST_OVER_HALF = "0.1250000000000000000000000000001"
JUST_OVER_ONE_CENT = "0.0100000000000000000000000000001"


def test_to_minor_rounds_once_like_rounded() -> None:
    m = Money.of(JUST_OVER_HALF, "CNY")
    for r in Rounding:
        assert m.to_minor(r) == m.rounded(r).to_minor(), r
    assert m.to_minor(Rounding.HALF_EVEN) == 13  # above the half: up, whatever the parity
    assert m.to_minor(Rounding.DOWN) == 12


def test_to_minor_without_rounding_refuses_any_sub_minor_part() -> None:
    with pytest.raises(ValueError, match="round it first"):
        Money.of(JUST_OVER_ONE_CENT, "CNY").to_minor()
    with pytest.raises(ValueError, match="round it first"):
        Money.of("1.0000000000000000000000000000001", "JPY").to_minor()


def test_arithmetic_keeps_every_digit() -> None:
    tiny = Money.of("0.0000000000000000000000000000001", "CNY")
    total = Money.of("0.01", "CNY") + tiny
    assert total.amount == Decimal(JUST_OVER_ONE_CENT)
    assert total.to_minor(Rounding.UP) == 2
    assert (total - tiny).amount == Decimal("0.01")
    assert (Money.of("12345678901234567890.12", "CNY") * Decimal("1.000000001")).amount == Decimal(
        "12345678913580246791.35456789012")


def test_large_amounts_round_without_a_decimal_error() -> None:
    assert Money.of("1e30", "CNY").to_minor(Rounding.HALF_UP) == 10**32
    assert Money.of("123456789012345678901234567.891", "KWD").rounded(Rounding.HALF_EVEN).to_minor() == (
        123456789012345678901234567891)


def test_negative_zero_is_plain_zero() -> None:
    assert str(Money.of("-0", "CNY")) == "0.00 CNY"
    assert str(Money.of("-0.004", "CNY")) == "0.00 CNY"
    assert str(Money.of("-0.4", "JPY").rounded(Rounding.HALF_UP).amount) == "0"
    assert not Money.of("-0.0004", "BHD").rounded(Rounding.DOWN).amount.is_signed()
    assert not (-Money.zero("EUR")).amount.is_signed()
    assert str(Money.of("-0.005", "CNY").rounded(Rounding.HALF_UP)) == "-0.01 CNY"  # a real amount keeps its sign


def test_seconds_between_is_elapsed_time_across_dst() -> None:
    march = Period(2026, 3, "Europe/Berlin")  # clocks go forward on 29 March
    assert seconds_between(march.start, march.end) == (31 * 24 - 1) * 3600
    ny = ZoneInfo("America/New_York")  # clocks go back on 1 November 2026
    nov1, nov2 = datetime(2026, 11, 1, tzinfo=ny), datetime(2026, 11, 2, tzinfo=ny)
    assert seconds_between(nov1, nov2) == 25 * 3600
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ny)
    second = first.replace(fold=1)  # the same wall time an hour later
    assert seconds_between(first, second) == 3600
    assert seconds_between(march.start.astimezone(UTC), march.end) == (31 * 24 - 1) * 3600


def test_rfc3339_offset_minutes_stop_at_59() -> None:
    for bad in ("2026-11-01T08:00:00+08:60", "2026-11-01T08:00:00-05:75", "2026-11-01T08:00:00+24:00"):
        with pytest.raises(BadTimeError):
            parse_rfc3339(bad)
    assert parse_rfc3339("2026-11-01T08:00:00+05:45").utcoffset() == timedelta(hours=5, minutes=45)
    assert parse_rfc3339("2026-11-01T08:00:00-00:00").utcoffset() == timedelta(0)


def test_unknown_currency_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="XXQ"):
        load_settings(home=tmp_path, currency="XXQ")
    assert load_settings(home=tmp_path, currency="kwd").currency == "KWD"
    assert load_settings(home=tmp_path).currency == "CNY"


@pytest.mark.parametrize("secret", ["", "   ", " change-me-development-only "])
@pytest.mark.parametrize("environment", [Environment.PRODUCTION, Environment.TEST])
def test_empty_or_default_secret_refused_outside_development(tmp_path: Path, secret: str,
                                                               environment: Environment) -> None:
    with pytest.raises(ConfigError, match="FAIRTEL_SECRET_KEY"):
        load_settings(home=tmp_path, environment=environment, secret_key=secret).check_secrets()
    load_settings(home=tmp_path, secret_key=secret).check_secrets()  # development accepts anything


def test_every_command_refuses_the_default_secret_outside_development(tmp_path: Path) -> None:
    """Commands key pseudonyms and ids by the secret as the server does: bootstrap (which they all go through)
    refuses a default or empty secret outside development, as the server did alone."""
    from fairtel.bootstrap import bootstrap

    with pytest.raises(ConfigError, match="FAIRTEL_SECRET_KEY"):
        bootstrap(load_settings(home=tmp_path / "prod", environment="production"))
    app = bootstrap(load_settings(home=tmp_path / "prod", environment="production", secret_key="s" * 32))
    app.close()
