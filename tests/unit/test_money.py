from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairtel.core import CurrencyMismatchError, Money, Rounding


def test_minor_units_round_trip_per_currency() -> None:
    assert Money.from_minor(600, "CNY").amount == Decimal("6.00")
    assert Money.from_minor(600, "JPY").amount == Decimal("600")
    assert Money.of("1.234", "KWD").to_minor() == 1234


def test_float_is_refused() -> None:
    with pytest.raises(TypeError):
        Money.of(0.1, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of("1", "CNY") * 0.5  # type: ignore[operator]


def test_inexact_to_minor_needs_rounding() -> None:
    m = Money.of("0.125", "CNY")
    with pytest.raises(ValueError):
        m.to_minor()
    assert m.to_minor(Rounding.HALF_UP) == 13
    assert m.to_minor(Rounding.HALF_EVEN) == 12
    assert m.to_minor(Rounding.DOWN) == 12
    assert m.to_minor(Rounding.UP) == 13


def test_currencies_do_not_mix() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money.of("1", "CNY") + Money.of("1", "EUR")


def test_unknown_currency() -> None:
    with pytest.raises(Exception, match="unknown ISO 4217"):
        Money.of("1", "XXQ")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_from_minor_to_minor_is_identity(units: int, cur: str) -> None:
    assert Money.from_minor(units, cur).to_minor() == units


@given(st.decimals(min_value=-1000, max_value=1000, allow_nan=False, places=6), st.sampled_from(list(Rounding)))
def test_rounding_moves_less_than_one_minor_unit(amount: Decimal, r: Rounding) -> None:
    m = Money.of(amount, "CNY")
    assert abs(m.rounded(r).amount - m.amount) < Decimal("0.01")
