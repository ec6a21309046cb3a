"""A fraud case as a reader who does not see the number reads it (a pseudonymised role): the line's holding dated
to the month, as the subscriber list dates an activation.

A case about a line states how old the line was (``line_age_days``, ``premium_line_age_days``; the ``new_line`` and
``new_holder`` reasons, the latter naming the day of an owner change, 过户) and when the calls it is about were made
(``premium_first_at``, ``premium_last_at``, each premium call's ``started_at``). Either alone, or the two together
(a call's instant less the line's age at it), give the day the line was activated or changed hands: a day its
customer went to a shop with their ID, which beside the pseudonym singles them out. Such a reader sees the ages in
whole days and, where the evidence states an age, the instants of the line's calls and the date of the owner change
to the month. The age thresholds of the rules are days, so the month is what they can still tell. A reader who sees
the number reads the case as stored."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_AGE_SUFFIX = "_age_days"
# the reasons that state a line's age: a new line's (from its activation), or a new holder's (from an owner change,
# whose words name the day the line changed hands)
_AGE_REASONS = frozenset({"new_line", "new_holder"})
# the instants of the line's own calls an age is measured at (and each premium call of an IRSF case)
_CALL_INSTANTS = frozenset({"first_at", "last_at", "premium_first_at", "premium_last_at", "started_at"})
_INSTANT = re.compile(r"^(\d{4}-\d{2})-\d{2}(?:[T ].*)?$")
_DAY = re.compile(r"\b(\d{4}-\d{2})-\d{2}\b")
_DAYS_AGE = re.compile(r"-?\d+\.\d+(?=\s*(?:days|天))")


def pseudonymised_evidence(value: Any) -> Any:
    """``value`` (a case's stored evidence, or any part of it) as a pseudonymised reader sees it: every line age (a key
    ending ``_age_days``) in whole days; in a mapping that states one, the instants of the line's calls
    (``premium_first_at``, ``premium_last_at``, ``first_at``, ``last_at``, and the ``started_at`` of the calls it
    lists) cut to their month (``YYYY-MM``, on the clock they were written in); and the reasons that state an age
    (``new_line``, ``new_holder``) with the age in whole days, value and words alike, and the owner change's date cut
    to its month. Anything else is left as it is (the decisions' history, the period, the detection time)."""
    if isinstance(value, Mapping):
        aged = any(isinstance(k, str) and k.endswith(_AGE_SUFFIX) for k in value)
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and k.endswith(_AGE_SUFFIX):
                out[k] = _whole(v)
            elif k == "reasons" and isinstance(v, list):
                out[k] = [coarse_reason(r) for r in v]
            elif aged and k != "history":
                out[k] = _call_months(pseudonymised_evidence(v), key=k)
            else:
                out[k] = pseudonymised_evidence(v)
        return out
    if isinstance(value, list):
        return [pseudonymised_evidence(v) for v in value]
    return value


def coarse_reason(reason: Any) -> Any:
    """A reason stating the line's age (``new_line``, ``new_holder``) as a pseudonymised reader sees it: the age in
    whole days (value and words), and a new holder's date of the owner change cut to its month. Other reasons, and
    anything that is not a reason, are returned as they are."""
    if not isinstance(reason, Mapping) or reason.get("code") not in _AGE_REASONS:
        return reason
    out = dict(reason)
    value = reason.get("value")
    whole = _whole(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(whole, int):
        out["value"] = whole
    for language in ("en", "zh"):
        text = reason.get(language)
        if not isinstance(text, str):
            continue
        if isinstance(whole, int):  # the age first, then the threshold: only the first number of days is the age
            text = _DAYS_AGE.sub(str(whole), text, count=1)
        if reason.get("code") == "new_holder":
            text = _DAY.sub(r"\1", text)
        out[language] = text
    return out


def _whole(value: Any) -> Any:
    """An age in whole days (cut toward zero, as ``int``); anything that is not a finite number as it is."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value


def _call_months(value: Any, *, key: Any) -> Any:
    """``value`` (under ``key`` in a mapping that states a line's age) with the instants of the line's calls cut to
    their month, in it and in the calls it lists."""
    if isinstance(value, str) and key in _CALL_INSTANTS:
        m = _INSTANT.match(value)
        return m[1] if m else value
    if isinstance(value, Mapping):
        return {k: _call_months(v, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [_call_months(v, key=key) for v in value]
    return value
