"""Phone numbers glued to Latin letters in agents' notes (``abc13800138000``, ``tel13800138000x``) are tokenised like
any other, by length and form (a mobile number of the home numbering plan), never a run of digits of another length
(an order id of 20 digits, an IMEI, an ICCID); and the command line masks a third party's number in a note as the
API does, from the number as the register keeps it (``86139****9000``), however it was written."""

from __future__ import annotations

import pytest

from fairtel.care._complaints import NOTE_NUMBER_ERASED, note_token, resolve_note, tokenise_note
from fairtel.cli._care import _note_shown
from fairtel.privacy import Pseudonymizer, mask_msisdn

KEY = Pseudonymizer("k" * 32, domain="msisdn")
LINE = "8613800138000"


def _tokenise(note: str, home_country: str | None = None) -> tuple[str, dict[str, str]]:
    return tokenise_note(note, lambda n: note_token(n, KEY), home_country=home_country)


@pytest.mark.parametrize(
    ("note", "e164"),
    [
        ("called abc13800138000 twice", "8613800138000"),
        ("tel13800138000x", "8613800138000"),
        ("no answer on 13800138000abc", "8613800138000"),
        ("ref8613800138000", "8613800138000"),
        ("号码x19912345678y已核实", "8619912345678"),
    ],
)
def test_a_number_glued_to_letters_is_a_token(note: str, e164: str) -> None:
    stored, numbers = _tokenise(note)
    assert set(numbers.values()) == {e164}
    assert e164[2:] not in stored and not any(ch.isdigit() for ch in stored)  # no digit of it left in the ledger
    assert resolve_note(stored, numbers) == note  # read back as written, letters around it included
    assert NOTE_NUMBER_ERASED in resolve_note(stored, {}) and "1380013" not in resolve_note(stored, {})  # erased


def test_glued_numbers_share_the_token_of_the_number_however_written() -> None:
    stored, numbers = _tokenise("a13800138000b and +86 138 0013 8000, c13900139000d")
    assert sorted(numbers.values()) == ["8613800138000", "8613900139000"] and len(numbers) == 2
    assert resolve_note(stored, numbers) == "a13800138000b and 8613800138000, c13900139000d"


@pytest.mark.parametrize(
    "note",
    [
        "order ord13800138000123456789 paid",  # an order id of 20 digits beginning like a mobile number
        "ord12345678913800138000x",  # a mobile number's digits inside a longer run
        "imei860912051234567 swapped",  # an IMEI (15 digits)
        "iccid89860012345678901234 replaced",  # an ICCID (20 digits)
        "sim iccid8986001234567890123",  # an ICCID (19 digits)
        "record v0012340180, finding fnd_01jd1234567xyz",  # ids' own digits
        "case abc1380013800 (10 digits) and abc138001380001 (12)",  # not a mobile number's length
        "see cmp-0000099 on 2026-11-03, 12.50 yuan",
    ],
)
def test_digits_of_another_length_or_form_stay_as_written(note: str) -> None:
    assert _tokenise(note) == (note, {})


def test_a_glued_number_is_read_by_the_home_numbering() -> None:
    # Germany dials its mobiles with a trunk 0 and has no prefixless form: glued digits there are an id's
    assert _tokenise("ref015123456789", home_country="DE") == ("ref015123456789", {})


def test_replace_numbers_in_words_keeps_what_the_replacement_declines() -> None:
    from fairtel.privacy import replace_numbers_in_words

    seen: list[tuple[str, str]] = []

    def mark(written: str, e164: str) -> str | None:
        seen.append((written, e164))
        return None if e164 == LINE else "<n>"

    assert replace_numbers_in_words("x13800138000y z13900139000 cmp-8613700137000-01", mark) == "x13800138000y z<n> cmp-<n>-01"
    assert seen == [("13800138000", LINE), ("13900139000", "8613900139000"), ("8613700137000", "8613700137000")]


# ---- the command line masks as the API: from the number as the register keeps it ------------------------
@pytest.mark.parametrize("written", ["13900139000", "139 0013 9000", "+86 139-0013-9000", "008613900139000"])
def test_the_command_line_masks_a_third_partys_number_from_its_e164_form(written: str) -> None:
    assert _note_shown(f"call {written} back; line 13800138000", LINE) == (
        f"call {mask_msisdn('8613900139000')} back; line 13800138000")
    assert mask_msisdn("8613900139000") == "86139****9000"


def test_the_command_line_masks_a_glued_third_party_number_and_keeps_the_subscribers() -> None:
    shown = _note_shown("tel13900139000x, own abc13800138000, case cmp-8613900139000-01, ref cmp-0000099", LINE)
    assert shown == "tel86139****9000x, own abc13800138000, case cmp-86139****9000-01, ref cmp-0000099"


def test_the_command_line_masks_a_german_third_party_number_from_its_e164_form() -> None:
    shown = _note_shown("called back on 0151 2345 6789, not on 0160 9876 5432", "4915123456789", "DE")
    assert shown == "called back on 015123456789, not on 49160****5432"
