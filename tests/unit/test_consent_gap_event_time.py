"""A consent event dated far after the moment it is read (2099), or before 2000 (a clock reset to 1970), is a bad
line naming file, line and field ``at``, never an event of the append-only ledger: a confirmation dated in 2099
would confirm charges for decades, and one dated ahead sorts after every real event of its subscription. A few
minutes of clock disagreement are allowed (``EVENT_FUTURE_TOLERANCE``, a keyword of the readers).

Before: every such event was read into the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fairtel.consent import (
    EVENT_FUTURE_TOLERANCE,
    ConsentLedger,
    parse_consent_lines,
    project_subscriptions,
    read_consent_events,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
M = "8613800138000"


def line(event: str, at: str, sub: str = "s1") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": M, "offer_id": "o1", "at": at, "channel": "sms"})


def test_a_confirmation_dated_2099_is_refused_naming_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "consent.jsonl"
    path.write_text("\n".join([line("ordered", "2026-11-01T08:00:00+08:00"),
                               line("confirmed", "2099-01-01T00:00:00Z"),
                               line("ordered", "2026-11-02T08:00:00+08:00", "s2")]) + "\n")
    batch = read_consent_events([path], now=NOW)
    assert batch.read == 3 and batch.events.height == 2
    [problem] = batch.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "at")
    assert "2099-01-01T00:00:00Z" in problem.message and "moment of import" in problem.message
    ledger = ConsentLedger()
    ledger.append(batch)
    confirmed = dict(project_subscriptions(ledger.events).select("subscription_id", "confirmed_at").iter_rows())
    assert confirmed == {"s1": None, "s2": None}  # nothing confirmed: no charge is covered


def test_the_readers_use_the_clock_when_no_moment_is_given() -> None:
    batch = parse_consent_lines([line("confirmed", "2099-01-01T00:00:00Z")], file="c.jsonl")
    assert [(p.file, p.line, p.field) for p in batch.problems] == [("c.jsonl", 1, "at")]
    assert batch.events.height == 0


@pytest.mark.parametrize(("at", "refused"), [
    ("1970-01-01T00:00:00Z", True),
    ("1999-12-31T23:59:59Z", True),
    ("2000-01-01T08:00:00+08:00", False),  # 2000-01-01T00:00Z exactly
    ("2000-01-01T07:59:59+08:00", True),
    ((NOW + EVENT_FUTURE_TOLERANCE).isoformat(), False),
    ((NOW + EVENT_FUTURE_TOLERANCE + timedelta(seconds=1)).isoformat(), True),
    ("2026-11-27T20:04:00+08:00", False),  # 12:04Z: within the tolerance, written in another zone
    ("2026-11-27T20:06:00+08:00", True),
    ("2027-01-01T00:00:00Z", True),
])
def test_the_bounds_of_an_events_time(at: str, refused: bool) -> None:
    batch = parse_consent_lines([line("ordered", at)], file="c.jsonl", now=NOW)
    assert [(p.line, p.field) for p in batch.problems] == ([(1, "at")] if refused else [])
    assert batch.events.height == (0 if refused else 1)
    assert batch.read == 1


def test_the_tolerance_is_a_setting_of_the_reader() -> None:
    ahead = line("ordered", (NOW + timedelta(minutes=1)).isoformat())
    assert parse_consent_lines([ahead], now=NOW).problems == []  # default: five minutes; this is one minute ahead
    strict = parse_consent_lines([ahead], now=NOW, future_tolerance=timedelta(0))
    assert [p.field for p in strict.problems] == ["at"] and "0 s" in strict.problems[0].message
    loose = parse_consent_lines([ahead], now=NOW, future_tolerance=timedelta(minutes=2))
    assert loose.problems == [] and loose.events.height == 1
