"""Money as a request carries it: one rule for every amount the API reads (a roaming cap, a care credit).

An amount is a JSON string of plain ASCII digits, at most ``AMOUNT_DIGITS`` before the point and at most the
currency's minor digits after it (``"100"``, ``"3.50"`` in CNY; ``"500"`` in JPY): no sign, space, exponent, lone
point, ``NaN`` or ``Infinity``, nor digits of another script (``"１００"``), each of which ``Decimal`` would read."""

from __future__ import annotations

import re
from decimal import Decimal

from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import AMOUNT_DIGITS, MINOR_UNITS, amount_pattern, minor_units

WIDEST_MINOR = max(MINOR_UNITS.values())
"""Digits after the point in the currency that has most (KWD's 3): an amount whose currency is not known yet."""
# the rule itself (``AMOUNT_DIGITS``, ``amount_pattern``) is core's: the assistant reads a cap said in chat by it too


def amount_problem(value: object, currency: str | None) -> str | None:
    """What is wrong with ``value`` as an amount in ``currency`` (None: its currency is not known yet, any the API
    knows), in words naming the rule; None when nothing is."""
    if not isinstance(value, str):  # a JSON number may have been computed in binary floating point: never taken
        number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        return 'a decimal string, e.g. "3.50"' + (", not a JSON number" if number else "")
    decimals = WIDEST_MINOR if currency is None else minor_units(currency)
    if re.fullmatch(amount_pattern(decimals), value):
        return None
    after = f"at most {decimals} after the point" if decimals else "no point"
    example = "3.50" if decimals >= 2 else "350"
    # "not an amount in CNY: ..." as the console translates it (``web._i18n``)
    return (f'not an amount in {currency or "its currency"}: plain digits (0-9), at most {AMOUNT_DIGITS} before the '
            f'point and {after}, e.g. "{example}" (no sign, space or exponent)')


def parse_amount(value: object, currency: str | None, *, field: str = "amount", what: str = "request") -> Decimal:
    """``value`` (a request's text, or a ``Decimal`` a model read from one) as a ``Decimal`` in ``currency``; an
    ``InvalidInputError`` (422 ``input_invalid``) naming ``field`` when it breaks the rule (``amount_problem``)."""
    text = format(value, "f") if isinstance(value, Decimal) and value.is_finite() else value
    problem = amount_problem(text, currency)
    if problem is not None:
        raise InvalidInputError([Problem("request", None, field, problem)], what=what)
    assert isinstance(text, str)
    return Decimal(text)
