"""`fairtel consent check` reads consent files as `fairtel load` imports them: a line ends at a newline only (a
JSON string may hold U+2028 or U+0085), a UTF-8 byte order mark is accepted, and a line that is not UTF-8 is
refused with its line and byte offset while the file's other lines are read.

Before: U+2028 split one event into two bad lines, a BOM refused the first line, and one byte that is not UTF-8
refused the whole file with no line."""

from __future__ import annotations

import json
from pathlib import Path

from fairtel.consent import read_consent_events

EVENT = {"event": "ordered", "subscription_id": "s-1", "msisdn": "8613800000001", "offer_id": "o-1",
         "at": "2026-09-01T10:00:00+08:00", "channel": "sms", "evidence": "order"}


def line(**kw: str) -> bytes:
    return json.dumps(EVENT | kw, ensure_ascii=False).encode("utf-8") + b"\n"


def test_unicode_line_separators_inside_a_string_stay_in_one_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(evidence="a\u2028b\u0085c\u2029d\x0ce"))
    batch = read_consent_events([path])
    assert (batch.read, batch.problems, batch.events.height) == (1, [], 1)
    assert batch.events["evidence"][0] == "a\u2028b\u0085c\u2029d\x0ce"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line() + line(subscription_id="s-2"))
    batch = read_consent_events([path])
    assert (batch.read, batch.problems, batch.events.height) == (2, [], 2)


def test_a_line_not_utf8_is_refused_with_its_line_and_byte_offset_and_the_others_are_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    bad = line(subscription_id="s-2", evidence="X").replace(b"X", "中文".encode("gbk"))
    path.write_bytes(line() + bad + line(subscription_id="s-3"))
    batch = read_consent_events([path])
    assert (batch.read, batch.events.height) == (3, 2)
    [problem] = batch.problems
    assert (problem.line, problem.code) == (2, "undecodable")
    offset = len(line()) + bad.index("中文".encode("gbk"))
    assert f"byte 0xd6 at byte offset {offset} of the file" in problem.message
