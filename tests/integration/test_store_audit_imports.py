"""Imports on SQLite and PostgreSQL: input the databases would store differently, or refuse half-way, is
rejected line by line with file, line and field, and the rest of the file is imported the same on both."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from fairtel.store import (
    ConsentEvent,
    ImportStatus,
    consent_ledger,
    count_subscribers,
    get_subscriber,
    import_consent_events,
    import_subscribers,
)

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
GOOD_ROW = "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n"


def consent(event: str = "ordered", *, sub: str = "sub-1", at: str = "2025-03-01T09:00:00+08:00", **extra: object) -> str:
    obj = {"event": event, "subscription_id": sub, "msisdn": "8613800138000", "offer_id": "vas-music-10", "at": at,
           "channel": "sms", **extra}
    return json.dumps(obj)


def consent_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ConsentEvent)) or 0)


def assert_adds_up(report: object) -> None:
    r = report  # an ImportReport
    assert r.read == r.accepted + r.duplicate + r.rejected  # type: ignore[attr-defined]


# --- subscribers ----------------------------------------------------------------------------------------


def test_subscriber_text_with_a_nul_is_rejected_on_both_databases(engine: Engine, tmp_path: Path) -> None:
    # SQLite stored the NUL, PostgreSQL refused the whole file with a driver error.
    path = tmp_path / "subscribers.csv"
    path.write_text(HEADER + GOOD_ROW + "8613800138001,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Bei\x00jing\n",
                    encoding="utf-8")
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert_adds_up(report)
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 3, "region")]
    with engine.connect() as conn:
        assert count_subscribers(conn) == 1
        assert get_subscriber(conn, "8613800138001") is None


def test_subscriber_activated_outside_the_representable_range_is_rejected(engine: Engine, tmp_path: Path) -> None:
    # Year 1 east of UTC (and year 9999 west of it) is before (after) the first (last) UTC instant Python
    # can hold: converting it raised OverflowError and the whole import failed.
    path = tmp_path / "subscribers.csv"
    path.write_text(
        HEADER + GOOD_ROW
        + "8613800138001,cus-1,basic-39,0001-01-01T00:00:00+08:00,active,zh,\n"
        + "8613800138002,cus-1,basic-39,9999-12-31T23:00:00-05:00,active,zh,\n",
        encoding="utf-8",
    )
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.read, report.accepted, report.rejected) == (3, 1, 2)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(3, "activated_at", "bad_timestamp"),
                                                                    (4, "activated_at", "bad_timestamp")]
    with engine.connect() as conn:
        assert count_subscribers(conn) == 1


def test_an_oversized_csv_field_rejects_its_line_not_the_file(engine: Engine, tmp_path: Path) -> None:
    # The csv module refuses a field over its limit by raising: the import stopped with a csv.Error.
    path = tmp_path / "subscribers.csv"
    path.write_text(
        HEADER
        + '8613800138001,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,"' + "x" * 200_000 + '"\n'
        + GOOD_ROW,
        encoding="utf-8",
    )
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.file, p.line) for p in report.problems] == [(str(path), 2)]
    with engine.connect() as conn:
        assert get_subscriber(conn, "8613800138000") is not None


def test_a_line_repeated_identically_is_a_duplicate_not_a_rejection(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(HEADER + GOOD_ROW + GOOD_ROW, encoding="utf-8")
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.read, report.accepted, report.duplicate, report.rejected) == (2, 1, 1, 0)
    assert report.status is ImportStatus.OK and report.problems == []
    # the same number with other content is still refused: which row is right is not ours to guess
    path.write_text(HEADER + GOOD_ROW + GOOD_ROW.replace("basic-39", "payg"), encoding="utf-8")
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.accepted, report.duplicate, report.rejected) == (1, 0, 1)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(3, "msisdn", "duplicate")]


# --- consent ---------------------------------------------------------------------------------------------


def test_consent_text_with_a_nul_is_rejected_on_both_databases(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "consent.jsonl"
    path.write_text("\n".join([consent(sub="sub-\x001"), consent(sub="sub-2")]) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 1, "subscription_id")]
    assert consent_count(engine) == 1


def test_consent_text_with_a_lone_surrogate_is_rejected(engine: Engine, tmp_path: Path) -> None:
    # "\ud800" is valid JSON but no Unicode text: the driver failed to encode it and the import crashed.
    path = tmp_path / "consent.jsonl"
    path.write_text(consent(sub="sub-\\ud8001").replace("\\\\", "\\") + "\n" + consent(sub="sub-2") + "\n",
                    encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.line, p.field) for p in report.problems] == [(1, "subscription_id")]
    assert consent_count(engine) == 1


def test_consent_evidence_that_is_not_standard_json_is_rejected(engine: Engine, tmp_path: Path) -> None:
    # Python's json reads NaN and Infinity, SQLite stored them, PostgreSQL refused the file: neither is JSON.
    path = tmp_path / "consent.jsonl"
    lines = [
        consent(sub="sub-1").removesuffix("}") + ', "evidence": {"score": NaN}}',
        consent(sub="sub-2").removesuffix("}") + ', "evidence": -Infinity}',
        consent(sub="sub-3", evidence="\ud800"),  # an escaped lone surrogate: stored, then unreadable as text
        consent(sub="sub-4", evidence={"sms_id": "m-4"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (4, 1, 3)
    assert [p.line for p in report.problems] == [1, 2, 3]
    assert consent_count(engine) == 1
    with engine.connect() as conn:
        assert consent_ledger(conn).column("subscription_id").to_pylist() == ["sub-4"]


def test_consent_at_outside_the_representable_range_is_rejected(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "consent.jsonl"
    path.write_text("\n".join([consent(at="0001-01-01T00:00:00+08:00"), consent(sub="sub-2")]) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(1, "at", "bad_timestamp")]


def test_consent_file_with_a_byte_order_mark_keeps_its_first_event(engine: Engine, tmp_path: Path) -> None:
    # Subscribers CSV read with utf-8-sig; the consent file lost its first event to "bad_json".
    path = tmp_path / "consent.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join([consent(sub="sub-1"), consent(sub="sub-2")]) + "\n").encode())
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 2, 0), report.problems
    with engine.begin() as conn:
        again = import_consent_events(conn, path)
    assert (again.accepted, again.duplicate) == (0, 2)


def test_consent_line_nested_too_deeply_is_rejected(engine: Engine, tmp_path: Path) -> None:
    # json.loads raised RecursionError and the import stopped.
    path = tmp_path / "consent.jsonl"
    deep = consent(sub="sub-1").removesuffix("}") + ', "evidence": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(deep + "\n" + consent(sub="sub-2") + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.line, p.code) for p in report.problems] == [(1, "bad_json")]


def test_a_closed_line_keeps_when_it_left_service(engine: Engine, tmp_path: Path) -> None:
    """closed_at (optional column): read back as the same instant on both databases; refused on a line that is
    not closed, or before its activation; a re-import with a closing date updates the line."""
    from datetime import UTC, datetime

    path = tmp_path / "subscribers.csv"
    path.write_text(
        HEADER.rstrip("\n") + ",closed_at\n"
        + "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,closed,zh,Shanghai,2026-03-10T18:00:00+08:00\n"
        + "8613800138001,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai,2026-03-10T18:00:00+08:00\n"
        + "8613800138002,cus-1,basic-39,2025-03-01T09:00:00+08:00,closed,zh,Shanghai,2025-02-01T00:00:00+08:00\n"
        + "8613800138003,cus-1,basic-39,2025-03-01T09:00:00+08:00,closed,zh,Shanghai,\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
    assert (report.read, report.accepted, report.rejected) == (4, 2, 2)
    assert [(p.line, p.field) for p in report.problems] == [(3, "closed_at"), (4, "closed_at")]
    with engine.connect() as conn:
        closed = get_subscriber(conn, "8613800138000")
        unknown = get_subscriber(conn, "8613800138003")
    assert closed is not None and closed.closed_at == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert unknown is not None and unknown.closed_at is None
    again = tmp_path / "again.csv"
    again.write_text(HEADER.rstrip("\n") + ",closed_at\n"
                     + "8613800138003,cus-1,basic-39,2025-03-01T09:00:00+08:00,closed,zh,Shanghai,2026-03-01T00:00:00Z\n",
                     encoding="utf-8")
    with engine.begin() as conn:
        assert import_subscribers(conn, again).updated == 1
    with engine.connect() as conn:
        now_known = get_subscriber(conn, "8613800138003")
    assert now_known is not None and now_known.closed_at == datetime(2026, 3, 1, tzinfo=UTC)
