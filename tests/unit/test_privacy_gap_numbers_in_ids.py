"""Numbers that ids made outside fairtel hold (an imported complaint ``cmp-8613800138000-01``, a consent order
``ord-8613800138000-0917``): found where they stand between the id's separators, and only there; the digits of
sequences and generated ids are the ids' own. The audit keeps such a number as its pseudonym."""

from __future__ import annotations

import pytest

from fairtel.privacy import Pseudonymizer, number_in_id, pseudonymise_numbers, replace_numbers_in_id

P = Pseudonymizer("test-secret-key-0123456789abcdef")


def marked(number: str) -> str:
    return f"<{number}>"


@pytest.mark.parametrize(("identifier", "expected"), [
    ("cmp-8613800138000-01", "cmp-<8613800138000>-01"),
    ("ord-8613800138000-0917", "ord-<8613800138000>-0917"),
    ("cmp-13800138000", "cmp-<8613800138000>"),  # as dialled at home
    ("call_8613800138000_7f3e", "call_<8613800138000>_7f3e"),
    ("cmp-0000099", "cmp-0000099"),  # a sequence
    ("cmp-20261003", "cmp-20261003"),  # a date
    ("fnd_01jd13800138000xyz", "fnd_01jd13800138000xyz"),  # digits touching letters: a generated id's
    ("r-4", "r-4"),
])
def test_numbers_an_id_holds_are_found_between_its_separators(identifier: str, expected: str) -> None:
    assert replace_numbers_in_id(identifier, marked) == expected


def test_the_subjects_number_is_found_in_every_way_it_is_written_at_home() -> None:
    subject = "4915123456789"  # a German mobile: no pattern of numbers dialled without a prefix there
    for written in ("cmp-4915123456789-01", "cmp-015123456789-01", "cmp-004915123456789-01"):
        assert replace_numbers_in_id(written, marked, subject=subject, home_country="DE") == "cmp-<4915123456789>-01"
    assert replace_numbers_in_id("cmp-4915123456789-01", marked, home_country="DE") == "cmp-4915123456789-01"
    assert number_in_id("015123456789", subject=subject, home_country="DE") == subject


def test_a_reader_who_may_see_the_number_reads_the_id_as_stored() -> None:
    assert replace_numbers_in_id("cmp-13800138000-01", lambda n: None) == "cmp-13800138000-01"


def test_the_audit_keeps_the_number_an_id_holds_as_its_pseudonym() -> None:
    text = pseudonymise_numbers("complaint cmp-8613800138000-01, then cmp-0000099 and 138-0013-8000", P)
    assert text == f"complaint cmp-{P('8613800138000')}-01, then cmp-0000099 and {P('8613800138000')}"
