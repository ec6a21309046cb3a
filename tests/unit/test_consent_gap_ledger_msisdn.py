"""The consent ledger accepts a subscriber number exactly when the subscriber register does (E.164: 7 to 15 ASCII
digits, the first not 0; the shared ``msisdn_problem``), and says why it refuses one. Before, it took 6 digits,
a national 0 and full-width digits (a regex ``\\d``), numbers the register refuses, and said only "must be 6 to
15 digits"."""

from __future__ import annotations

import json

import pytest

from fairtel.consent import parse_consent_lines
from fairtel.privacy._numbers import msisdn_problem


def line(msisdn: object) -> str:
    return json.dumps({"event": "ordered", "subscription_id": "s1", "msisdn": msisdn, "offer_id": "vas-music-10",
                       "at": "2026-03-01T10:00:00+08:00"}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("msisdn", "why"),
    [
        ("123456", "6 digits, fewer than 7"),
        ("0138001380000", "starts with 0"),
        ("+8613800138000", "starts with '+'"),
        ("８６１３８００１３８０００", "characters other than the digits 0-9"),
        ("1234567890123456", "16 digits, more than 15"),
        ("138 0013 8000", "characters other than the digits 0-9"),
    ],
)
def test_a_number_the_register_refuses_is_refused_saying_why(msisdn: str, why: str) -> None:
    batch = parse_consent_lines([line(msisdn)], file="consent.jsonl")
    assert batch.events.height == 0
    [problem] = batch.problems
    assert (problem.file, problem.line, problem.field) == ("consent.jsonl", 1, "msisdn")
    assert problem.message == msisdn_problem(msisdn)  # the register's own words
    assert why in problem.message and repr(msisdn) in problem.message


@pytest.mark.parametrize("msisdn", ["1234567", "8613800138000", "123456789012345", 8613800138000])
def test_a_number_the_register_accepts_is_accepted(msisdn: object) -> None:
    batch = parse_consent_lines([line(msisdn)])
    assert batch.problems == []
    assert batch.events["msisdn"].to_list() == [str(msisdn)]
    assert msisdn_problem(str(msisdn)) is None


def test_the_line_by_line_path_says_the_same() -> None:
    # a malformed line elsewhere in the file sends the whole file through the line-by-line parse
    batch = parse_consent_lines(["{not json", line("123456")])
    assert [(p.line, p.field, p.message) for p in batch.problems if p.field == "msisdn"] == [
        (2, "msisdn", msisdn_problem("123456"))]
