"""Consent event times: every RFC 3339 spelling the pattern accepts is parsed, to the same instant the store's
importer gives, so that a confirmation the store keeps is not refused when the same file is read directly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fairtel.consent import parse_consent_lines
from fairtel.core.time import parse_rfc3339

SPELLINGS = [
    "2026-09-01T10:00:00+08:00",
    "2026-09-01t10:00:00+08:00",
    "2026-09-01 10:00:00+08:00",
    "2026-09-01t02:00:00z",
    "2026-09-01 02:00:00.000Z",
]


def _line(sub: str, at: str) -> str:
    return json.dumps({"event": "confirmed", "subscription_id": sub, "msisdn": "8613800138000",
                       "offer_id": "vas-music-10", "at": at, "channel": "sms"})


@pytest.mark.parametrize("broken_line", [False, True], ids=["fast-path", "line-by-line"])
def test_every_accepted_spelling_is_parsed_to_the_stores_instant(broken_line: bool) -> None:
    lines = [_line(f"s{i}", at) for i, at in enumerate(SPELLINGS)]
    if broken_line:
        lines.append('{"event": "ordered", "subscription_id": ')  # forces the line by line parse
    batch = parse_consent_lines(lines)
    assert [p.line for p in batch.problems] == ([len(SPELLINGS) + 1] if broken_line else [])
    got = dict(zip(batch.events["subscription_id"], batch.events["at"], strict=True))
    assert got == {f"s{i}": parse_rfc3339(at).astimezone(UTC) for i, at in enumerate(SPELLINGS)}
    assert set(got.values()) == {datetime(2026, 9, 1, 2, 0, tzinfo=UTC)}


def test_a_time_without_offset_or_an_impossible_date_is_still_refused() -> None:
    batch = parse_consent_lines([_line("a", "2026-09-01 10:00:00"), _line("b", "2026-02-30t10:00:00+08:00")])
    assert batch.events.height == 0
    assert [(p.line, p.field) for p in batch.problems] == [(1, "at"), (2, "at")]
