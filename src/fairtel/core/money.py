"""Money: ``Decimal`` in code, integer minor units plus an ISO 4217 currency at rest. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from typing import Self

from fairtel.core.errors import CurrencyMismatchError, FairtelError

# ISO 4217 minor-unit exponents for the currencies operators bill in; extend as needed.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2, "EUR": 2, "USD": 2, "GBP": 2, "HKD": 2, "MOP": 2, "TWD": 2, "SGD": 2, "AUD": 2, "CAD": 2,
    "CHF": 2, "INR": 2, "THB": 2, "MYR": 2, "RUB": 2, "BRL": 2, "MXN": 2, "ZAR": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "TRY": 2, "AED": 2, "SAR": 2, "PHP": 2, "IDR": 2, "VND": 0, "JPY": 0, "KRW": 0,
    "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}


ROAMING_CAP_MAX = Decimal(100000)
"""The highest monthly roaming spending cap, in units of the cap's currency (100000 CNY, JPY or KWD): the one limit
``PUT /me/roaming-cap``, the assistant and the care store all check."""

AMOUNT_DIGITS = 9
"""Digits before the point of an amount a person types (a request, a chat): none comes near a thousand million."""


def amount_pattern(decimals: int) -> str:
    """How a typed amount is written, as a regular expression: plain ASCII digits, at most ``AMOUNT_DIGITS`` before
    the point and 1 to ``decimals`` after it (none when ``decimals`` is 0); no sign, space, exponent or lone point."""
    fraction = rf"(\.[0-9]{{1,{decimals}}})?" if decimals > 0 else ""
    return rf"^[0-9]{{1,{AMOUNT_DIGITS}}}{fraction}$"


class UnknownCurrencyError(FairtelError):
    code = "currency_unknown"


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrencyError(f"unknown ISO 4217 currency {currency!r}") from None


class Rounding(StrEnum):
    """How an amount is rounded; a tariff declares one, applied once per rated line."""

    HALF_UP = "half_up"  # CGRateS *middle
    HALF_EVEN = "half_even"
    UP = "up"  # away from zero; CGRateS *up
    DOWN = "down"  # toward zero; CGRateS *down
    CEILING = "ceiling"
    FLOOR = "floor"

    @property
    def decimal_mode(self) -> str:
        return _MODES[self]


_MODES = {
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.UP: ROUND_UP,
    Rounding.DOWN: ROUND_DOWN,
    Rounding.CEILING: ROUND_CEILING,
    Rounding.FLOOR: ROUND_FLOOR,
}


# Money arithmetic never rounds behind the caller's back: sums, differences, products, scaling to minor
# units and quantizing are exact under this context (the default one keeps 28 digits, which would round an
# amount written with more digits once before the declared rounding and so round it twice).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow])


def to_decimal(value: Decimal | int | str) -> Decimal:
    """A Decimal from an int, a decimal string or a Decimal; floats are refused on purpose."""
    if isinstance(value, float):
        raise TypeError("money is never a float: pass a decimal string or a Decimal")
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, str) and ("_" in value or not value.isascii()):
        # Python's Decimal reads "1_000" (digit grouping in code) and non-ASCII digits ("١٠"); neither is
        # how an amount is written in a file or a request, so a typo there must not become a price.
        raise ValueError(f"not a decimal amount (ASCII digits, no '_'): {value!r}")
    d = value if isinstance(value, Decimal) else Decimal(value)
    if not d.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return d


def quantize(amount: Decimal, decimals: int, rounding: Rounding) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=rounding.decimal_mode, context=EXACT)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in one currency. Arithmetic keeps full precision; ``rounded`` and ``to_minor`` round."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        amount = to_decimal(self.amount)
        if amount.is_zero() and amount.is_signed():  # -0.00 is zero: never shown or stored with a sign
            amount = amount.copy_abs()
        object.__setattr__(self, "amount", amount)
        minor_units(self.currency)  # validates the code

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Self:
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Self:
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError("minor units are an int")
        return cls(Decimal(units).scaleb(-minor_units(currency), context=EXACT), currency)

    def to_minor(self, rounding: Rounding | None = None) -> int:
        """Integer minor units. Without ``rounding`` the amount must already be exact in minor units."""
        exp = minor_units(self.currency)
        scaled = self.amount.scaleb(exp, context=EXACT)
        if rounding is None:
            if scaled != scaled.to_integral_value(context=EXACT):
                raise ValueError(f"{self} has more precision than {self.currency} minor units; round it first")
            return int(scaled)
        return int(scaled.to_integral_value(rounding=rounding.decimal_mode, context=EXACT))

    def rounded(self, rounding: Rounding = Rounding.HALF_UP, decimals: int | None = None) -> Money:
        d = minor_units(self.currency) if decimals is None else decimals
        return Money(quantize(self.amount, d, rounding), self.currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(EXACT.subtract(self.amount, other.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float | Money):
            raise TypeError("multiply money by a Decimal or an int")
        return Money(EXACT.multiply(self.amount, to_decimal(factor)), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.rounded(Rounding.HALF_UP).amount} {self.currency}"


def sum_money(items: list[Money] | tuple[Money, ...], currency: str) -> Money:
    total = Money.zero(currency)
    for m in items:
        total = total + m
    return total
