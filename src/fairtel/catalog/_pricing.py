"""CGRateS rate-step semantics, pure and exact: the one place a quantity becomes an amount.

For a quantity ``q`` > 0: the first step's connect fee, once; then for every step whose
``group_interval_start`` is below ``q``, the units falling in that step (up to the next step's start) are
rounded up to whole ``increment`` blocks and charged ``blocks × increment × rate / rate_unit``. The sum is
rounded once (the rate's method and decimals) and then capped at ``max_cost``. A quantity of 0 costs 0:
nothing was used, so no connect fee either.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from fairtel.catalog._model import Rate
from fairtel.core.money import quantize


@dataclass(frozen=True, slots=True)
class StepCharge:
    step: int
    units: int | Decimal
    billed_units: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """How ``price_steps`` reached its amount, for explaining a line."""

    amount: Decimal
    unrounded: Decimal
    connect_fee: Decimal
    charges: tuple[StepCharge, ...]
    capped: bool

    @property
    def billed_units(self) -> int:
        return sum(c.billed_units for c in self.charges)


def _ceil_div(units: int | Decimal, increment: int) -> int:
    if isinstance(units, int):
        return -(-units // increment)
    return int((units / increment).to_integral_value(rounding=ROUND_CEILING))


def price_breakdown(rate: Rate, quantity: int | Decimal) -> PriceBreakdown:
    if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
        raise TypeError("a quantity is an int or a Decimal (never a float)")
    if quantity < 0:
        raise ValueError(f"quantity must be ≥ 0, got {quantity}")
    if quantity == 0 or not rate.steps:
        return PriceBreakdown(Decimal(0), Decimal(0), Decimal(0), (), False)
    connect_fee = rate.steps[0].connect_fee
    total = connect_fee
    charges: list[StepCharge] = []
    for i, step in enumerate(rate.steps):
        if quantity <= step.group_interval_start:
            break
        upper = rate.steps[i + 1].group_interval_start if i + 1 < len(rate.steps) else None
        units = (quantity if upper is None else min(quantity, upper)) - step.group_interval_start
        blocks = _ceil_div(units, step.increment)
        if rate.increment_decimals is None:
            amount = blocks * step.increment * step.rate / step.rate_unit
        else:  # CGRateS: each increment's cost is rounded before the increments are added up
            per_block = (step.increment * step.rate / step.rate_unit).quantize(
                Decimal(1).scaleb(-rate.increment_decimals), rounding=ROUND_HALF_UP
            )
            amount = blocks * per_block
        charges.append(StepCharge(i, units, blocks * step.increment, amount))
        total += amount
    rounded = quantize(total, rate.rounding_decimals, rate.rounding)
    capped = rate.max_cost is not None and rounded > rate.max_cost
    if capped:
        assert rate.max_cost is not None
        rounded = rate.max_cost
    return PriceBreakdown(rounded, total, connect_fee, tuple(charges), capped)


def price_steps(rate: Rate, quantity: int | Decimal) -> Decimal:
    """The amount ``rate`` charges for ``quantity`` base units (seconds, messages or bytes)."""
    return price_breakdown(rate, quantity).amount
