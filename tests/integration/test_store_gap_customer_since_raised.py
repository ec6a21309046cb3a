"""A register row moving a line to another customer with a ``customer_since`` earlier than the line's previous
holding began (its ``holder_since``): the new holding is raised to that start, and the import's notes say how many
rows were raised and the first one's line in the file, naming the field. Before: raised silently. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.store import Subscriber, import_subscribers
from fairtel.store._schema import table_of

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since"
A, B, C = "8613800000021", "8613800000022", "8613800000023"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OLD = "2023-01-23T17:02:19+08:00"
CN = timezone(timedelta(hours=8))


def _register(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _holder_since(engine: Engine, msisdn: str) -> datetime | None:
    s = table_of(Subscriber)
    with engine.connect() as conn:
        at = conn.scalar(select(s.c.holder_since).where(s.c.msisdn == msisdn))
    return None if at is None else (at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def test_a_customer_since_before_the_previous_holding_is_raised_and_said(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "1.csv", f"{A},cu-1,payg,{OLD},active,zh,sh,",
                                           f"{B},cu-1,payg,{OLD},active,zh,sh,", f"{C},cu-1,payg,{OLD},active,zh,sh,"),
                           now=NOW - timedelta(days=60))
    # A and C move to cu-2, dated by the file
    with engine.begin() as conn:
        moved = import_subscribers(conn, _register(tmp_path / "2.csv",
                                                   f"{A},cu-2,payg,{OLD},active,zh,sh,2026-10-15T00:00:00+08:00",
                                                   f"{B},cu-1,payg,{OLD},active,zh,sh,",
                                                   f"{C},cu-2,payg,{OLD},active,zh,sh,2026-10-10T00:00:00+08:00"),
                               now=NOW - timedelta(days=10))
    assert not any("earlier than the line's previous holding" in n for n in moved.notes)
    # then to cu-3, with a customer_since inside cu-2's holding: raised to its start, and said
    path = _register(tmp_path / "3.csv",
                     f"{B},cu-1,payg,{OLD},active,zh,sh,",
                     f"{A},cu-3,payg,{OLD},active,zh,sh,2026-10-01T00:00:00+08:00",
                     f"{C},cu-3,payg,{OLD},active,zh,sh,2026-09-01T00:00:00+08:00")
    with engine.begin() as conn:
        report = import_subscribers(conn, path, now=NOW)
    assert report.accepted == 3 and report.updated == 2
    assert _holder_since(engine, A) == datetime(2026, 10, 15, tzinfo=CN)
    assert _holder_since(engine, C) == datetime(2026, 10, 10, tzinfo=CN)
    notes = [n for n in report.to_dict()["notes"] if "earlier than the line's previous holding" in n]
    assert len(notes) == 1, report.notes
    assert notes[0].startswith("2 row(s) gave a customer_since")
    assert f"{path} line 3, field customer_since" in notes[0]
    assert "8613800000021" not in notes[0]  # lines are never named in full in the report


def test_a_customer_since_after_the_previous_holding_is_not_noted(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "1.csv", f"{A},cu-1,payg,{OLD},active,zh,sh,"),
                           now=NOW - timedelta(days=60))
        import_subscribers(conn, _register(tmp_path / "2.csv",
                                           f"{A},cu-2,payg,{OLD},active,zh,sh,2026-10-01T00:00:00+08:00"),
                           now=NOW - timedelta(days=20))
        report = import_subscribers(conn, _register(tmp_path / "3.csv",
                                                    f"{A},cu-3,payg,{OLD},active,zh,sh,2026-10-20T00:00:00+08:00"),
                                    now=NOW)
    assert _holder_since(engine, A) == datetime(2026, 10, 20, tzinfo=CN)
    assert not any("earlier than the line's previous holding" in n for n in report.notes)
