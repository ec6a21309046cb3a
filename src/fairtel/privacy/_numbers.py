"""Finding subscriber numbers in text and data written by people, so that they can be shown as the reader may
see numbers (masked, pseudonymised) or kept out of the access audit.

People write a number the way they read it: ``138-0013-8000``, ``138 0013 8000``, ``138.0013.8000``,
``+86 138 0013 8000``, in full-width digits, as a JSON integer or as the key of a mapping. Each of these is the
same number, and each must be found: a pattern that only knows unbroken runs of digits lets every other spelling
through. People also write numbers that are not a subscriber's but are as personal: a resident ID-card number
(居民身份证号码, 18 characters) or a bank-card number (16 to 19 digits, often in groups of 4). Those are never
shown nor recorded, to anyone: they are replaced by a fixed mark wherever numbers are found.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fairtel.core.countries import CALLING_CODES, INTERNATIONAL_PREFIX, INTERNATIONAL_PREFIXES, TRUNK_PREFIXES

MIN_DIGITS, MAX_DIGITS = 7, 15  # a national significant number at the shortest; E.164 at the longest

# The operator's home numbering plan: a number written as dialled at home is the register's E.164 number with
# the home country's calling code in front. The home country is the operator's (``[operator] country`` in the
# catalog, ``FAIRTEL_COUNTRY`` in the settings, else the country of the time zone), given by whoever calls with
# ``home_country``; without one it is the demo operator's, mainland China, whose constants these are.
HOME_COUNTRY = "CN"
HOME_COUNTRY_CODE = "86"
HOME_MOBILE = re.compile(r"1[3-9]\d{9}")  # a mobile number as dialled at home (mainland China: 11 digits)
# Numbers dialled at home with no prefix at all, that are the E.164 number without the calling code: mainland
# China's mobile numbers (its landlines are written with the trunk 0 and an area code, and left as written), and
# the North American Numbering Plan's 10 digits (``202 555 0123``; written with its trunk 1 a number is its E.164
# number already).
_DIALLED_AT_HOME = {HOME_COUNTRY_CODE: HOME_MOBILE, "1": re.compile(r"[2-9]\d{2}[2-9]\d{6}")}


@dataclass(frozen=True, slots=True)
class HomeNumbering:
    """How people in the operator's home country write a number dialled there, and so how such a number found in
    free text becomes the register's E.164 number (``e164``).

    ``country``: ISO 3166-1 alpha-2. ``country_code``: its calling code (``86``, ``49``). ``dialled``: numbers
    written with no prefix that take the calling code in front (mainland China's mobiles), if any.
    ``trunk_prefix``: the national prefix dropped before the calling code goes in front (``0`` in Germany:
    ``0151 2345 6789`` is ``4915123456789``), if the country writes numbers with one. ``international_prefix``:
    dialled before another country's code (``00``; ``011`` in North America)."""

    country: str
    country_code: str
    dialled: re.Pattern[str] | None
    trunk_prefix: str | None
    international_prefix: str

    def e164(self, digits: str) -> str:
        """``digits`` (a number found in free text, as written) as the register keeps it (see ``e164_of``)."""
        if self.dialled is not None and self.dialled.fullmatch(digits):
            return self.country_code + digits
        rest = digits.removeprefix(self.international_prefix)
        if rest != digits:
            return rest if msisdn_problem(rest) is None and len(rest) > MIN_DIGITS else digits
        if self.trunk_prefix and digits.startswith(self.trunk_prefix):
            national = digits.removeprefix(self.trunk_prefix)
            if national[:1] not in ("", "0") and msisdn_problem(self.country_code + national) is None:
                return self.country_code + national
        return digits


@functools.cache
def home_numbering(country: str | None = None) -> HomeNumbering:
    """The numbering of the operator's home ``country`` (ISO 3166-1 alpha-2; ``None``: mainland China, the demo
    operator's). ``ValueError`` for a code that names no country: the settings and the catalog refuse one first."""
    code = (country or HOME_COUNTRY).strip().upper()
    if code not in CALLING_CODES:
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'CN', 'DE')")
    calling = CALLING_CODES[code]
    return HomeNumbering(
        country=code, country_code=calling, dialled=_DIALLED_AT_HOME.get(calling),
        trunk_prefix=TRUNK_PREFIXES.get(code),
        international_prefix=INTERNATIONAL_PREFIXES.get(code, INTERNATIONAL_PREFIX),
    )


# What an ID-card or bank-card number in text is replaced with: a mark in both languages, no digit of it kept
# (the last digits of an ID card are what a caller is asked to prove who they are with).
ID_NUMBER_MARK = "[身份证号 ID number]"
CARD_NUMBER_MARK = "[银行卡号 card number]"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643: ISO 7064 MOD 11-2
_ID_CHECK = "10X98765432"
_BORN_SINCE = 1900
_CARD_DIGITS = (16, 19)
_ICCID_PREFIX = "89"  # telecom's issuer prefix: a SIM card's ICCID (Luhn-checked too), not a payment card

# One separator between groups of digits: spaces (also no-break and ideographic), or a dash with spaces
# around it or not. A dot only where two or more of them part groups one of which has 4 digits or more
# (``138.0013.8000``): ``12345.67`` is an amount and ``192.168.10.200`` an address, not numbers anyone dialled.
_SPACE = "[ \u00a0\u3000]"
_DASH = "[-\u2010-\u2015\u2212\uff0d]"
_DOT = "[.\uff0e]"
_SEP = f"(?:{_SPACE}*{_DASH}{_SPACE}*|{_SPACE}{{1,2}})"
_X = "XxＸｘ"  # an ID card's check character 10
# Dates are digits and dashes or dots too (``2026-10-03``, a period ``2026-10``, ``2026.10.03``, ``03.10.2026``):
# matched first, and left as they are.
_DATE = (
    rf"(?:\d{{4}}{_DASH}\d{{1,2}}(?:{_DASH}\d{{1,2}})?|\d{{4}}{_DOT}\d{{1,2}}{_DOT}\d{{1,2}}|\d{{1,2}}{_DOT}\d{{1,2}}{_DOT}\d{{4}})"
    rf"(?!\d|(?:{_DASH}|{_DOT})\d)"
)
_WORD = "[0-9A-Za-z_]"


def _pattern(*, standalone: bool, dots: bool) -> re.Pattern[str]:
    # In free text a number may touch letters (``tel:8613800138000``, ``号码13800138000``): any run of digits
    # counts. In text that also holds ids (``cmp_01jd1234567…``, ``cmp-0000099``, ``v0012340180``) a number
    # stands alone: digits inside a word, or joined to one by a hyphen, are the id's.
    boundary = _WORD if standalone else r"\d"
    after_word = rf"(?<!{_WORD}{_DASH})" if standalone else ""
    sep = f"(?:{_SEP}|{_DOT})" if dots else _SEP
    span = rf"\+?\d+(?:{sep}\d+)*(?:[{_X}](?!{_WORD}))?"
    return re.compile(rf"(?<!{boundary}){after_word}(?:(?P<date>{_DATE})|(?P<span>{span}))(?!{boundary})")


_PATTERNS = {
    (standalone, dots): _pattern(standalone=standalone, dots=dots)
    for standalone in (False, True)
    for dots in (False, True)
}


def number_digits(text: str) -> str | None:
    """The digits of ``text`` (ASCII), when it is a number as people write one; otherwise ``None``.

    A single run of digits is a number when it has 7 to 15 of them (longer runs are ids: ICCIDs, card
    numbers). Groups joined by separators are a number from 7 digits up, also past 15: numbers written side
    by side are each replaced when every group is one, and hidden together otherwise, never left visible."""
    groups = re.findall(r"\d+", text)
    digits = _ascii("".join(groups))
    if len(digits) < MIN_DIGITS or (len(groups) == 1 and len(digits) > MAX_DIGITS):
        return None
    return digits


def e164_of(digits: str, *, home_country: str | None = None) -> str:
    """A number found in free text (its digits, as written) as the register keeps it: E.164 digits, by the
    numbering of the operator's ``home_country`` (ISO 3166-1 alpha-2; ``None``: mainland China, ``home_numbering``).
    In China a mobile number as dialled at home (``13800138000``) gets the home calling code (``8613800138000``);
    in a country whose numbers are written with a trunk prefix the prefix gives way to the calling code
    (``015123456789`` in Germany is ``4915123456789``); one dialled with the international prefix
    (``008613800138000``) loses it; any other is taken as written. Only for free text: a number in a field of
    E.164 numbers (a peer) is one already, and 11 digits from a ``1`` may be another country's there."""
    return home_numbering(home_country).e164(digits)


def is_id_card_number(text: str) -> bool:
    """Whether ``text`` (digits, full-width ones too, and a final ``X``) is a resident ID-card number: 17 digits
    and a check character (GB 11643), where the check character agrees with the digits or the digits hold a real
    date of birth (the 7th to the 14th, ``YYYYMMDD``). The second catches a number written with a digit wrong,
    which is as personal as the right one; an 18-digit id passes the first 1 time in 11, the second about 1 in
    2000, and then is hidden, not shown."""
    body, check = _ascii(text[:-1]), _ascii(text[-1:].upper().translate(_FULL_WIDTH_X))
    if len(body) != 17 or not body.isdigit() or not (check.isdigit() or check == "X"):
        return False
    agrees = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11] == check
    return agrees or _is_birth_date(body[6:14])


def _is_birth_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return born.year >= _BORN_SINCE


def is_card_number(digits: str) -> bool:
    """Whether ``digits`` are a payment card's number: 16 to 19 digits passing the Luhn check, not a SIM card's
    ICCID (which passes it too, and starts with 89)."""
    d = _ascii(digits)
    if not (_CARD_DIGITS[0] <= len(d) <= _CARD_DIGITS[1]) or not d.isdigit() or d.startswith(_ICCID_PREFIX):
        return False
    total = sum(
        int(c) if i % 2 == 0 else (2 * int(c) - 9 if int(c) > 4 else 2 * int(c)) for i, c in enumerate(reversed(d))
    )
    return total % 10 == 0


_FULL_WIDTH_X = str.maketrans({"Ｘ": "X"})


def _ascii(text: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def msisdn_problem(text: str) -> str | None:
    """Why ``text`` is not a subscriber number as the register keeps one (E.164: 7 to 15 digits, the first the
    country code's, so not 0, and no ``+``), or ``None`` when it is one. The message says the real reason and
    quotes the value (its start, when long), so that whoever fixes the file knows what to change."""
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
    return f"not an E.164 number ({why}): {_quoted(text)}"


QUOTED_CHARS = 32  # a value quoted in a message is cut after this many characters


def _quoted(text: str) -> str:
    """``text`` as a message quotes it: whole when short, else its start and how long it was (a 5000-digit
    value would drown the message it is quoted in)."""
    if len(text) <= QUOTED_CHARS:
        return repr(text)
    return f"{text[:QUOTED_CHARS]!r}... ({len(text)} characters)"


def _dotted_number(span: str) -> bool:
    """Whether the dots in ``span`` part the groups of a number (``138.0013.8000``, ``+86.138.0013.8000``): two
    dots at least, every group between them of 2 digits or more, one of 4 or more (an address has none)."""
    parts = re.split(_DOT, span)
    runs = [len(r) for r in re.findall(r"\d+", span)]
    return len(parts) >= 3 and all(len(re.findall(r"\d", p)) >= 2 for p in parts) and max(runs) >= 4


def replace_numbers(
    text: str, replace: Callable[[str], str], *, standalone: bool = False, e164: bool = False,
    home_country: str | None = None,
) -> str:
    """``text`` with every number in it replaced by ``replace(digits)``, and every ID-card or bank-card number in
    it by a fixed mark (``ID_NUMBER_MARK``, ``CARD_NUMBER_MARK``: ``replace`` never sees one).

    ``standalone``: only numbers not touching letters or ``_``, nor joined to a word by a hyphen (for text that
    also holds ids: ``cmp-0000099`` is a complaint, not a number). ``e164``: ``replace`` is given each number as
    the register keeps it (``e164_of``, by the numbering of the operator's ``home_country``), so that
    ``13800138000`` and ``+86 138 0013 8000`` are replaced alike in China, ``0151 2345 6789`` and
    ``+49 151 2345 6789`` in Germany."""
    home = home_numbering(home_country) if e164 else None
    return _replace(text, replace, standalone=standalone, home=home)


def hide_identity_numbers(text: str) -> str:
    """``text`` with its ID-card and bank-card numbers hidden by their marks and everything else as written (phone
    numbers too): for text shown to a reader who may read the numbers in it, such as the agent handling the
    subscriber who wrote it, but never anyone's identity documents."""
    return _replace(text, None, standalone=True, home=None)


def _replace(text: str, replace: Callable[[str], str] | None, *, standalone: bool, home: HomeNumbering | None) -> str:
    """``replace_numbers``; ``home``: the numbering each number is read by before ``replace`` sees it, ``None``
    for the digits as written."""

    def one(m: re.Match[str]) -> str:
        if m.group("date") is not None:
            return m.group(0)
        return span(m.group("span"))

    def span(written: str) -> str:
        check = written[-1] if written[-1] in _X else ""  # an ID card's check character, or a letter after a number
        body = written.removesuffix(check)
        groups = re.findall(r"\d+", body)
        digits = _ascii("".join(groups))
        side_by_side = len(groups) > 1 and all(number_digits(g) for g in groups)
        if not body.startswith("+") and not side_by_side:
            if is_id_card_number(digits + check):
                return ID_NUMBER_MARK
            if not check and is_card_number(digits):
                return CARD_NUMBER_MARK
        if check:
            return span(body) + check
        if re.search(_DOT, body) and not _dotted_number(body):
            return _PATTERNS[standalone, False].sub(one, body)  # an amount, an address: only the numbers beside it
        if replace is None or number_digits(body) is None:
            return body
        if len(digits) > MAX_DIGITS and side_by_side:
            return re.sub(r"\d+", lambda g: shown(replace, _ascii(g.group(0))), body)  # numbers side by side
        return shown(replace, digits)

    def shown(replace: Callable[[str], str], digits: str) -> str:
        return replace(digits if home is None else home.e164(digits))

    return _PATTERNS[standalone, True].sub(one, text)


# A segment of an id: a run of characters between the id's separators (``-``, ``_``, ``/``, ``.``, ``:``, ``@``, ``~``,
# ``#``) or its ends. A number an id holds is a segment of digits only: digits touching letters (``fnd_01jd1234567…``)
# belong to a generated id.
_ID_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d+(?![0-9A-Za-z])")


def _forms_of(msisdn: str, home: HomeNumbering) -> frozenset[str]:
    """``msisdn`` (E.164 digits) and the ways an id may hold it when written as dialled at home: without the calling
    code, with the trunk prefix, or after the international prefix."""
    forms = {msisdn, home.international_prefix + msisdn}
    national = msisdn.removeprefix(home.country_code)
    if national != msisdn and len(national) >= MIN_DIGITS:
        if home.dialled is not None and home.dialled.fullmatch(national):
            forms.add(national)
        if home.trunk_prefix:
            forms.add(home.trunk_prefix + national)
    return frozenset(forms)


def number_in_id(digits: str, *, subject: str | None = None, home_country: str | None = None) -> str | None:
    """The number (E.164 digits) a segment of digits of an id is, or ``None`` when the digits are the id's own: the
    number of the ``subject`` the record is about, as the register keeps it or as dialled at home (``13800138000``,
    ``013800138000``…), or a mobile number of the home numbering plan, as dialled at home or after its calling code
    (``13800138000``, ``8613800138000`` in China). A sequence (``0000099``), a date or any other run is the id's."""
    home = home_numbering(home_country)
    if subject and digits in _forms_of(subject, home):
        return subject
    if home.dialled is not None:
        if home.dialled.fullmatch(digits):
            return home.country_code + digits
        national = digits.removeprefix(home.country_code)
        if national != digits and home.dialled.fullmatch(national):
            return digits
    return None


def replace_numbers_in_id(
    identifier: str, replace: Callable[[str], str | None], *, subject: str | None = None, home_country: str | None = None
) -> str:
    """``identifier`` (a record's id, as a system outside fairtel made it: an imported complaint ``cmp-8613800138000-01``,
    an order ``ord-8613800138000-0917``) with each number it holds (``number_in_id``: the ``subject``'s, or a mobile
    number of the home numbering plan, standing between the id's separators) replaced by ``replace(e164)``. Other digits
    stay as they are (``cmp-0000099``, ``fnd_01jd…``), so the same id always reads the same and still names its record.
    ``replace`` returning ``None`` keeps a number as the id holds it (for a reader who may see it)."""

    def one(m: re.Match[str]) -> str:
        number = number_in_id(m.group(0), subject=subject, home_country=home_country)
        shown = None if number is None else replace(number)
        return m.group(0) if shown is None else shown

    return _ID_DIGITS.sub(one, identifier)


# A run of digits as a whole: never part of a longer one (an order id of 20 digits, an IMEI of 15 or an ICCID of 19 or
# 20 holds no number), whatever stands on either side of it (an id's separators, Latin letters).
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?!\d)")


def replace_numbers_in_words(
    text: str, replace: Callable[[str, str], str | None], *, subject: str | None = None, home_country: str | None = None
) -> str:
    """``text`` with each number an id or a word holds replaced by ``replace(written, e164)``: a whole run of digits
    standing between an id's separators (``cmp-8613800138000-01``) or glued to Latin letters (``abc13800138000``,
    ``tel13800138000x``, ``ref8613800138000``), which ``replace_numbers(standalone=True)`` leaves as an id's, when it
    is a number by its length and form (``number_in_id``: the ``subject``'s, as the register keeps it or as dialled
    at home, or a mobile number of the home numbering plan, 11 digits from ``13`` to ``19`` in China, or those after
    its calling code). A run of another length stays as written: a sequence (``0000099``), an IMEI (15 digits), an
    ICCID (19 or 20), an order id of 20 digits, a date's or an amount's digits. ``replace`` returning ``None`` keeps
    a number as written."""

    def one(m: re.Match[str]) -> str:
        number = number_in_id(m.group(0), subject=subject, home_country=home_country)
        shown = None if number is None else replace(m.group(0), number)
        return m.group(0) if shown is None else shown

    return _DIGIT_RUN.sub(one, text)


def pseudonymise_numbers(text: str, pseudonym: Callable[[str], str], *, home_country: str | None = None) -> str:
    """Free text bound for the access audit (a reason, a resource's name): every number in it, however written,
    replaced by the keyed pseudonym of the number as the register keeps it, the one the audit files the
    subscriber under by the numbering of the operator's ``home_country`` (ISO 3166-1 alpha-2, ``None``: mainland
    China): ``13800138000`` and ``+86 138 0013 8000`` alike by that of ``8613800138000`` in China,
    ``0151 2345 6789`` and ``+49 151 2345 6789`` by that of ``4915123456789`` in Germany; ID-card and bank-card
    numbers by a fixed mark; the digits of ids (``cmp-0000099``, ``fnd_01jd…``) left as they are, so that a row
    names the complaint or finding it was about, unless they are a mobile number of the home numbering plan standing
    between the id's separators (``cmp-8613800138000-01``: ``replace_numbers_in_id``), kept as its pseudonym too."""
    text = replace_numbers(text, pseudonym, standalone=True, e164=True, home_country=home_country)
    return replace_numbers_in_id(text, pseudonym, home_country=home_country)


def has_number(text: str) -> bool:
    """Whether ``text`` holds a number as people write one, wherever it stands (touching letters or not): what
    ``replace_numbers`` would replace, an ID-card or bank-card number included. A name that does (a login named
    by its phone number) would carry the number into every place the name is shown or recorded."""
    found = False

    def mark(digits: str) -> str:
        nonlocal found
        found = True
        return digits

    return replace_numbers(text, mark) != text or found  # an ID-card or bank-card number is hidden, not ``mark``ed


def replace_numbers_in(value: Any, replace: Callable[[str], str], *, standalone: bool = False) -> Any:
    """``value`` (JSON-like data: evidence, notes) with every number replaced, in strings, in the keys of
    mappings, and in integers that have a number's digits (the replacement of those is a string). Numbers are
    taken as written (a field of numbers holds E.164 ones already); ``standalone`` as for ``replace_numbers``."""
    if isinstance(value, str):
        return replace_numbers(value, replace, standalone=standalone)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e16):
        digits = str(abs(int(value)))
        return replace(digits) if MIN_DIGITS <= len(digits) <= MAX_DIGITS else value
    if isinstance(value, list | tuple):
        return [replace_numbers_in(v, replace, standalone=standalone) for v in value]
    if isinstance(value, dict):
        return {
            str(replace_numbers_in(k, replace, standalone=standalone)): replace_numbers_in(
                v, replace, standalone=standalone
            )
            for k, v in value.items()
        }
    return value
