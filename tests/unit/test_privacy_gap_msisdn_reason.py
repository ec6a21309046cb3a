"""A number the register refuses says why: a leading 0, too few or too many digits, a '+', other characters.
`001010000000001` has 15 digits and no '+', yet was refused "not an E.164 number (7-15 digits, no '+')". The
subscriber, consent and survey imports share one validator, so they say the same thing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairtel.bootstrap import bootstrap
from fairtel.cli._surveys import import_surveys
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.privacy._numbers import msisdn_problem
from fairtel.store import import_consent_events, import_subscribers

CASES = [
    ("001010000000001", "starts with 0"),
    ("013800138000", "starts with 0"),
    ("123456", "6 digits, fewer than 7"),
    ("8613800138000123", "16 digits, more than 15"),
    ("+8613800138000", "starts with '+'"),
    ("86 138 0013 8000", "characters other than the digits"),
    ("１３８００１３８０００", "characters other than the digits"),  # full-width: the database keeps ASCII digits
]


@pytest.mark.parametrize(("number", "reason"), CASES)
def test_the_message_gives_the_real_reason(number: str, reason: str) -> None:
    message = msisdn_problem(number)
    assert message is not None and reason in message and repr(number) in message
    assert "7-15 digits, no '+'" not in message


@pytest.mark.parametrize("number", ["8613800138000", "1234567", "123456789012345"])
def test_a_register_number_has_no_problem(number: str) -> None:
    assert msisdn_problem(number) is None


def test_the_subscriber_import_says_the_number_starts_with_0(tmp_path: Path) -> None:
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    "001010000000001,C1,acme-49,2025-01-01T00:00:00+08:00,active,zh,x\n"
                    "123456,C2,acme-49,2025-01-01T00:00:00+08:00,active,zh,x\n", encoding="utf-8")
    with bootstrap(load_settings(home=tmp_path / "h")) as app, app.db.begin() as conn:
        report = import_subscribers(conn, subs)
    found = {(p.line, p.field): p.message for p in report.problems}
    assert "starts with 0" in found[(2, "msisdn")]
    assert "6 digits, fewer than 7" in found[(3, "msisdn")]


def test_the_consent_import_says_the_same(tmp_path: Path) -> None:
    events = tmp_path / "consent.jsonl"
    events.write_text(json.dumps({"event": "ordered", "subscription_id": "s1", "msisdn": "08613800138000",
                                  "offer_id": "vas-music-10", "at": "2026-03-01T10:00:00+08:00", "channel": "sms"})
                      + "\n", encoding="utf-8")
    with bootstrap(load_settings(home=tmp_path / "h")) as app, app.db.begin() as conn:
        report = import_consent_events(conn, events)
    (problem,) = [p for p in report.problems if p.field == "msisdn"]
    assert problem.message == msisdn_problem("08613800138000")


def test_the_survey_import_says_the_same(tmp_path: Path) -> None:
    answers = tmp_path / "surveys.jsonl"
    answers.write_text(json.dumps({"survey_id": "nps-1", "msisdn": "+8613800000001", "score": 9, "channel": "sms",
                                   "answered_at": "2026-09-03T10:00:00+08:00", "comment": None}) + "\n",
                       encoding="utf-8")
    app = bootstrap(load_settings(home=tmp_path / "h"))
    try:
        with pytest.raises(InvalidInputError) as info:
            import_surveys(app, answers)
    finally:
        app.close()
    (problem,) = info.value.problems
    assert problem.field == "msisdn" and problem.message == msisdn_problem("+8613800000001")
    assert "starts with '+'" in problem.message
