"""What a rate or allowance counts, and the quantity syntax of the catalog (``60s``, ``300min``, ``10GiB``)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from fairtel.core.contracts import UsageKind


class Unit(StrEnum):
    """The base unit a quantity is counted in: voice in seconds, SMS in messages, data in bytes."""

    SECOND = "second"
    MESSAGE = "message"
    BYTE = "byte"


UNIT_OF_KIND: dict[UsageKind, Unit] = {
    UsageKind.VOICE: Unit.SECOND,
    UsageKind.SMS: Unit.MESSAGE,
    UsageKind.DATA: Unit.BYTE,
}

_SUFFIXES: dict[Unit, dict[str, int]] = {
    Unit.SECOND: {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400},
    Unit.MESSAGE: {"": 1, "msg": 1, "sms": 1},
    Unit.BYTE: {
        "": 1, "b": 1,
        "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
        "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
    },
}

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


class QuantityError(ValueError):
    """A quantity that does not parse in the unit expected; the message says what is accepted."""


def parse_quantity(value: object, unit: Unit) -> int:
    """A whole number of base units from an int (already base units) or a string with a suffix.

    Seconds accept ``s``, ``min``/``m``, ``h``, ``d``; bytes accept ``B``, SI ``KB MB GB TB`` (powers of 1000)
    and binary ``KiB MiB GiB TiB`` (powers of 1024); messages are a plain count.
    """
    if isinstance(value, bool):
        raise QuantityError(f"expected a quantity in {unit}s, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise QuantityError("a quantity cannot be negative")
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value() or value < 0:
            raise QuantityError(f"a quantity in {unit}s is a whole number ≥ 0, got {value}")
        return int(value)
    if not isinstance(value, str):
        raise QuantityError(f"expected an integer or a string such as {_example(unit)!r}")
    m = _QUANTITY.match(value)
    factors = _SUFFIXES[unit]
    if not m or m.group(2).lower() not in factors:
        accepted = ", ".join(s for s in factors if s) or "none"
        raise QuantityError(f"{value!r} is not a quantity in {unit}s (e.g. {_example(unit)!r}; suffixes: {accepted})")
    try:
        total = Decimal(m.group(1)) * factors[m.group(2).lower()]
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
        raise QuantityError(f"{value!r} is not a number") from exc
    if total != total.to_integral_value():
        raise QuantityError(f"{value!r} is not a whole number of {unit}s")
    return int(total)


def format_quantity(amount: int, unit: Unit) -> str:
    """The shortest exact spelling of a quantity, for summaries: ``60s`` → ``1min``, 10 GiB → ``10GiB``."""
    if unit is Unit.SECOND:
        for suffix, f in (("h", 3600), ("min", 60)):
            if amount and amount % f == 0:
                return f"{amount // f}{suffix}"
        return f"{amount}s"
    if unit is Unit.BYTE:
        for suffix, f in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024),
                          ("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
            if amount and amount % f == 0:
                return f"{amount // f}{suffix}"
        return f"{amount}B"
    return str(amount)


def _example(unit: Unit) -> str:
    return {Unit.SECOND: "60s", Unit.MESSAGE: "1", Unit.BYTE: "1MiB"}[unit]
