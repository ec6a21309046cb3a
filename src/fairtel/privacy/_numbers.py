"""Finding subscriber numbers in text and data written by people, so that they can be shown as the reader may
see numbers (masked, pseudonymised) or kept out of the access audit.

People write a number the way they read it: ``138-0013-8000``, ``138 0013 8000``, ``+86 138 0013 8000``, in
full-width digits, as a JSON integer or as the key of a mapping. Each of these is the same number, and each
must be found: a pattern that only knows unbroken runs of digits lets every other spelling through.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

MIN_DIGITS, MAX_DIGITS = 7, 15  # a national significant number at the shortest; E.164 at the longest

# One separator between groups of digits: spaces (also no-break and ideographic), or a dash with spaces
# around it or not. Not a dot: ``12345.67`` is an amount, not a number someone dialled.
_SPACE = "[ \u00a0\u3000]"
_DASH = "[-\u2010-\u2015\u2212\uff0d]"
_SEP = f"(?:{_SPACE}*{_DASH}{_SPACE}*|{_SPACE}{{1,2}})"
# Dates are digits and dashes too (``2026-10-03``, a period ``2026-10``): matched first, and left as they are.
_DATE = rf"\d{{4}}{_DASH}\d{{1,2}}(?:{_DASH}\d{{1,2}})?(?!\d|{_DASH}\d)"
_SPAN = rf"\+?\d+(?:{_SEP}\d+)*"


def _pattern(boundary: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!{boundary})(?:(?P<date>{_DATE})|(?P<span>{_SPAN}))(?!{boundary})")


# In free text a number may touch letters (``tel:8613800138000``, ``号码13800138000``): any run of digits counts.
_IN_TEXT = _pattern(r"\d")
# In text that also holds ids (``cmp_01jd1234567…``), a number stands alone: digits inside a word are an id's.
_STANDALONE = _pattern(r"[0-9A-Za-z_]")


def number_digits(text: str) -> str | None:
    """The digits of ``text`` (ASCII), when it is a number as people write one; otherwise ``None``.

    A single run of digits is a number when it has 7 to 15 of them (longer runs are ids: ICCIDs, card
    numbers). Groups joined by separators are a number from 7 digits up, also past 15: numbers written side
    by side are each replaced when every group is one, and hidden together otherwise, never left visible."""
    groups = re.findall(r"\d+", text)
    digits = "".join(str(unicodedata.decimal(ch)) for ch in "".join(groups))
    if len(digits) < MIN_DIGITS or (len(groups) == 1 and len(digits) > MAX_DIGITS):
        return None
    return digits


def msisdn_problem(text: str) -> str | None:
    """Why ``text`` is not a subscriber number as the register keeps one (E.164: 7 to 15 digits, the first the
    country code's, so not 0, and no ``+``), or ``None`` when it is one. The message says the real reason and
    quotes the value, so that whoever fixes the file knows what to change."""
    if text.isascii() and text.isdigit():
        if text.startswith("0"):
            why = "starts with 0: write it from the country code, without a national 0 or an international 00"
        elif len(text) < MIN_DIGITS:
            why = f"{len(text)} digits, fewer than {MIN_DIGITS}"
        elif len(text) > MAX_DIGITS:
            why = f"{len(text)} digits, more than {MAX_DIGITS}"
        else:
            return None
    elif text.startswith("+") and text[1:].isascii() and text[1:].isdigit():
        why = "starts with '+': write the digits only"
    else:
        why = "holds characters other than the digits 0-9" if text else "empty"
    return f"not an E.164 number ({why}): {text!r}"


def replace_numbers(text: str, replace: Callable[[str], str], *, standalone: bool = False) -> str:
    """``text`` with every number in it replaced by ``replace(digits)``.

    ``standalone``: only numbers not touching letters or ``_`` (for text that also holds ids)."""
    pattern = _STANDALONE if standalone else _IN_TEXT

    def one(m: re.Match[str]) -> str:
        if m.group("date") is not None:
            return m.group(0)
        span = m.group("span")
        digits = number_digits(span)
        if digits is not None and len(digits) > MAX_DIGITS and all(number_digits(g) for g in re.findall(r"\d+", span)):
            return re.sub(r"\d+", lambda g: replace(number_digits(g.group(0)) or ""), span)  # numbers side by side
        return span if digits is None else replace(digits)

    return pattern.sub(one, text)


def has_number(text: str) -> bool:
    """Whether ``text`` holds a number as people write one, wherever it stands (touching letters or not): what
    ``replace_numbers`` would replace. A name that does (a login named by its phone number) would carry the
    number into every place the name is shown or recorded."""
    found = False

    def mark(digits: str) -> str:
        nonlocal found
        found = True
        return digits

    replace_numbers(text, mark)
    return found


def replace_numbers_in(value: Any, replace: Callable[[str], str]) -> Any:
    """``value`` (JSON-like data: evidence, notes) with every number replaced, in strings, in the keys of
    mappings, and in integers that have a number's digits (the replacement of those is a string)."""
    if isinstance(value, str):
        return replace_numbers(value, replace)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e16):
        digits = str(abs(int(value)))
        return replace(digits) if MIN_DIGITS <= len(digits) <= MAX_DIGITS else value
    if isinstance(value, list | tuple):
        return [replace_numbers_in(v, replace) for v in value]
    if isinstance(value, dict):
        return {str(replace_numbers_in(k, replace)): replace_numbers_in(v, replace) for k, v in value.items()}
    return value
