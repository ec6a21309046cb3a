"""The month a KPI is asked for, as an operator writes it: ``YYYY-MM`` (the month also in one digit, as every
command reads a period) or ``YYYYMM``, the form the regulator's tables use. One reading for every KPI command."""

from __future__ import annotations

import re

from fairtel.core.errors import InvalidInputError
from fairtel.core.time import BadTimeError, Period

MONTH_FORMS = "YYYY-MM or YYYYMM (e.g. 2026-03 or 202603)"

_COMPACT = re.compile(r"[0-9]{6}")  # ASCII digits: \d takes full-width ones too
_SHAPED = re.compile(r"[0-9]{4}-[0-9]{1,2}")


def parse_month(text: str, tz: str, *, option: str = "--period") -> Period:
    """The month ``text`` names in the time zone ``tz``; anything else is refused (``time_invalid``) with a message
    naming ``option`` and the forms it takes, and why the value is not a month when it has their shape
    (``2026-13``: the month is out of range)."""
    given = text.strip()
    if _COMPACT.fullmatch(given):
        given = f"{given[:4]}-{given[4:]}"
    why = ""
    try:
        return Period.parse(given, tz)
    except BadTimeError as exc:
        if _SHAPED.fullmatch(given):
            why = f" ({exc})"
    except InvalidInputError as exc:  # a year out of the range a period can have
        why = f" ({'; '.join(p.message for p in exc.problems)})"
    raise BadTimeError(f"{option}: a month is written {MONTH_FORMS}, got {text!r}{why}")
