"""Rate steps as exact integer arithmetic: one compiled form for the vectorised kernel and for explanations.

A rate's step ``k`` charges ``rate_k / rate_unit_k`` per billed unit (or, with ``increment_decimals``, the
per-increment cost CGRateS rounds first, divided by the increment). Every such price is a fraction; over one
rate they share a common denominator ``den``, so a line's amount is ``numerator / den`` with an integer
numerator, computed without floats or Decimals in the kernel. The amount is rounded once per line to the
rate's ``rounding_decimals`` with its method, expressed in the currency's minor units, then capped at
``max_cost``.

Positions: a line prices the units ``[offset, offset + quantity)`` of its record (``offset`` > 0 for the
second part of a call split at a time-band boundary; that part starts where the part before it was billed up to,
its last increment rounded up, when that is past the boundary, as CGRateS carries a rounded time span into the
next: ``_rate._carry_rounding``). In each step the units falling in it are counted in
whole increments from where the line enters the step, as CGRateS does from the step's start. Allowances draw
the first billed units of a line; what is left is charged at the price of the step it falls in. The connect
fee is charged once per record, on the line that holds the record's first unit, unless an allowance
covered that unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import lcm

from fairtel.catalog import Rate
from fairtel.core.money import Rounding, minor_units

INT_LIMIT = 2**62
"""Kernel numerators stay below this, far from the Int64 edge; larger lines are not rated (``quantity_too_large``)."""

ROUNDING_CODES: dict[Rounding, int] = {
    Rounding.UP: 0, Rounding.CEILING: 0, Rounding.DOWN: 1, Rounding.FLOOR: 1,
    Rounding.HALF_UP: 2, Rounding.HALF_EVEN: 3,
}


@dataclass(frozen=True, slots=True)
class CompiledStep:
    start: int  # group_interval_start, units from the start of the record
    end: int | None  # the next step's start; None for the last step
    increment: int
    numerator: int  # price of one unit is numerator / CompiledRate.den


@dataclass(frozen=True, slots=True)
class CompiledRate:
    """A rate as integers. ``amount_minor(n)`` turns a numerator over ``den`` into rounded minor units."""

    rate_id: str
    den: int
    steps: tuple[CompiledStep, ...]
    connect_fee: int  # over den
    round_factor: int  # 10 ** rounding_decimals
    minor_factor: int  # 10 ** (currency minor units - rounding_decimals)
    rounding: int  # ROUNDING_CODES
    max_cost_minor: int | None
    max_units: int  # the most billed units a line may have and stay exact in Int64

    def rounded_minor(self, numerator: int) -> int:
        """``numerator / den`` rounded once, with the rate's method, in minor units: before ``max_cost``."""
        q, r = divmod(numerator * self.round_factor, self.den)
        if self.rounding == 0:
            q += r > 0
        elif self.rounding == 2:
            q += 2 * r >= self.den
        elif self.rounding == 3:
            q += 2 * r > self.den or (2 * r == self.den and q % 2 == 1)
        return q * self.minor_factor

    def amount_minor(self, numerator: int) -> tuple[int, bool]:
        """Rounded minor units of ``numerator / den`` and whether ``max_cost`` capped it."""
        minor = self.rounded_minor(numerator)
        if self.max_cost_minor is not None and minor > self.max_cost_minor:
            return self.max_cost_minor, True
        return minor, False


def _unit_price(rate: Rate, i: int) -> Fraction:
    step = rate.steps[i]
    if rate.increment_decimals is None:
        return Fraction(step.rate) / step.rate_unit
    # CGRateS rounds each increment's cost (half up) before adding them up
    per_block = (step.increment * step.rate / step.rate_unit).quantize(
        Decimal(1).scaleb(-rate.increment_decimals), rounding=Rounding.HALF_UP.decimal_mode
    )
    return Fraction(per_block) / step.increment


def compile_rate(rate: Rate, currency: str) -> CompiledRate:
    prices = [_unit_price(rate, i) for i in range(len(rate.steps))]
    fee = Fraction(rate.connect_fee)
    den = lcm(fee.denominator, *(p.denominator for p in prices)) if prices else fee.denominator
    steps = tuple(
        CompiledStep(
            s.group_interval_start,
            rate.steps[i + 1].group_interval_start if i + 1 < len(rate.steps) else None,
            s.increment,
            int(prices[i] * den),
        )
        for i, s in enumerate(rate.steps)
    )
    minor = minor_units(currency)
    decimals = min(rate.rounding_decimals, minor)
    max_cost = None
    if rate.max_cost is not None:  # a cap finer than minor units is rounded down: never charge above it
        max_cost = int((rate.max_cost.scaleb(minor)).to_integral_value(rounding=Rounding.DOWN.decimal_mode))
    round_factor = 10**decimals
    biggest = max((s.numerator for s in steps), default=0) or 1
    max_units = max(0, (INT_LIMIT - int(fee * den) * round_factor) // (biggest * round_factor))
    return CompiledRate(
        rate.id, den, steps, int(fee * den), round_factor, 10 ** (minor - decimals), ROUNDING_CODES[rate.rounding],
        max_cost, max_units,
    )


@dataclass(frozen=True, slots=True)
class StepUse:
    """How one step took part in a line: units used, billed (whole increments), drawn from allowances,
    charged, and what the charged units cost before the line's rounding."""

    step: int
    units: int
    billed: int
    drawn: int
    charged: int
    cost: Fraction


@dataclass(frozen=True, slots=True)
class LineCharge:
    billed: int
    drawn: int
    charged: int
    connect_fee: Fraction
    unrounded: Fraction
    amount_minor: int  # rounded, then capped at the rate's ``max_cost``
    capped: bool
    steps: tuple[StepUse, ...]
    rounded_minor: int = 0  # rounded, before any cap


def billed_units(rate: CompiledRate, offset: int, quantity: int) -> list[tuple[int, int]]:
    """(units, billed units) in each step for the units ``[offset, offset + quantity)``."""
    out = []
    hi = offset + quantity
    for s in rate.steps:
        lo_k = max(offset, s.start)
        hi_k = hi if s.end is None else min(hi, s.end)
        units = max(hi_k - lo_k, 0)
        out.append((units, -(-units // s.increment) * s.increment))
    return out


def charge_line(rate: CompiledRate, *, offset: int = 0, quantity: int, drawn: int = 0) -> LineCharge:
    """The reference computation of one line, step by step: what explanations show and what the vectorised
    kernel must agree with. ``drawn``: billed units an allowance covered (taken from the line's first units)."""
    if quantity < 0 or offset < 0 or drawn < 0:
        raise ValueError("quantity, offset and drawn are ≥ 0")
    per_step = billed_units(rate, offset, quantity)
    billed = sum(b for _, b in per_step)
    drawn = min(drawn, billed)
    left = drawn
    uses: list[StepUse] = []
    numerator = 0
    for i, ((units, b), s) in enumerate(zip(per_step, rate.steps, strict=True)):
        take = min(left, b)
        left -= take
        numerator += (b - take) * s.numerator
        uses.append(StepUse(i, units, b, take, b - take, Fraction((b - take) * s.numerator, rate.den)))
    fee = rate.connect_fee if offset == 0 and drawn == 0 and quantity > 0 else 0
    numerator += fee
    amount, capped = rate.amount_minor(numerator)
    return LineCharge(billed, drawn, billed - drawn, Fraction(fee, rate.den), Fraction(numerator, rate.den), amount,
                      capped, tuple(uses), rate.rounded_minor(numerator))
