"""A register row can date a line's return to service from a suspension (``resumed_at``): the status history's
``active`` row starts then, so a suspension window ends at the real resume and the usage made after it is not held.
Before, the resume was dated at the import, and every day between the real resume and the import was held. A bad
``resumed_at`` is refused, naming the line and the field. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.store import get_subscriber, import_subscribers
from fairtel.store._schema import LineStatusHistory, table_of
from fairtel.store._subscribers import suspension_windows

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,suspended_at,resumed_at"
A, B = "8613800000001", "8613800000002"
ACT = "2023-01-23T17:02:19+08:00"
SUSPENDED = datetime(2026, 11, 4, 16, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 16, 17, 40, tzinfo=UTC)


def _register(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _suspend_both(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        report = import_subscribers(conn, _register(
            tmp_path / "suspended.csv",
            f"{A},cu-1,basic-39,{ACT},suspended,zh,,2026-11-05T00:00:00+08:00,",
            f"{B},cu-2,basic-39,{ACT},suspended,zh,,2026-11-05T00:00:00+08:00,"), now=NOW, timezone="Asia/Shanghai")
    assert report.accepted == 2, report.problems


def test_a_dated_resume_ends_the_suspension_then(engine: Engine, tmp_path: Path) -> None:
    _suspend_both(engine, tmp_path)
    resumed = _register(tmp_path / "resumed.csv",
                        f"{A},cu-1,basic-39,{ACT},active,zh,,,2026-11-12T09:30:00+08:00",
                        f"{B},cu-2,basic-39,{ACT},active,zh,,,")
    with engine.begin() as conn:
        report = import_subscribers(conn, resumed, now=NOW, timezone="Asia/Shanghai")
        windows = {r["msisdn"]: (r["suspended_from"], r["suspended_until"])
                   for r in suspension_windows(conn).to_dicts()}
        line = get_subscriber(conn, A)
    assert (report.accepted, report.rejected, report.updated) == (2, 0, 2), report.problems
    assert line is not None and line.status == "active" and line.suspended_at is None
    assert windows[A] == (SUSPENDED, datetime(2026, 11, 12, 1, 30, tzinfo=UTC))
    assert windows[B] == (SUSPENDED, NOW)  # no date given: since the register learnt it, as before

    # the same file again changes nothing and is not refused
    with engine.begin() as conn:
        again = import_subscribers(conn, resumed, now=NOW, timezone="Asia/Shanghai")
        h = table_of(LineStatusHistory)
        rows = conn.execute(select(h.c.status).where(h.c.msisdn == A)).all()
    assert (again.accepted, again.rejected, again.updated) == (2, 0, 0), again.problems
    assert len(rows) == 3


def test_a_bad_resumed_at_is_refused_naming_line_and_field(engine: Engine, tmp_path: Path) -> None:
    _suspend_both(engine, tmp_path)
    bad = _register(tmp_path / "bad.csv",
                    f"{A},cu-1,basic-39,{ACT},active,zh,,,2026-11-01T00:00:00+08:00",  # before the suspension
                    f"{B},cu-2,basic-39,{ACT},active,zh,,,2026-12-25T00:00:00+08:00",  # in the future
                    f"8613800000003,cu-3,basic-39,{ACT},active,zh,,,2026-11-12T09:30:00+08:00",  # new to the register
                    f"8613800000004,cu-4,basic-39,{ACT},suspended,zh,,,2026-11-12T09:30:00+08:00",  # not active
                    f"8613800000005,cu-5,basic-39,{ACT},active,zh,,,2026-11-12 09:30",  # no offset
                    )
    with engine.begin() as conn:
        report = import_subscribers(conn, bad, now=NOW, timezone="Asia/Shanghai")
        line = get_subscriber(conn, A)
    assert (report.read, report.accepted, report.rejected) == (5, 0, 5)
    assert sorted((p.line, p.field) for p in report.problems) == [(n, "resumed_at") for n in range(2, 7)]
    said = {p.line: p.message for p in report.problems}
    assert "before the line's suspension" in said[2] and "in the future" in said[3]
    assert "only a suspended line is resumed" in said[4] and "is not back in service" in said[5]
    assert line is not None and line.status == "suspended"  # a refused row changes nothing
