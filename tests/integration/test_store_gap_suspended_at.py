"""The subscriber import takes a suspended line's ``suspended_at`` from the file: the line is suspended since that
instant, not since the import (a charge made between the two used to be billed, while `assure --operator-dir` on
the same file refused it). A ``suspended_at`` on a line that is not suspended, or one that does not parse, is
reported with its line, not dropped without a word. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.engine import Engine

from fairtel.store import import_subscribers
from fairtel.store._subscribers import register_lines

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,suspended_at"
NOW = datetime(2026, 10, 1, tzinfo=UTC)


def _import(engine: Engine, path: Path, *rows: str, now: datetime = NOW) -> object:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    with engine.begin() as conn:
        return import_subscribers(conn, path, now=now, timezone="Asia/Shanghai")


def _since(engine: Engine, msisdn: str) -> datetime | None:
    with engine.connect() as conn:
        lines = register_lines(conn, [msisdn])
    value = lines.filter(lines["msisdn"] == msisdn)["suspended_at"].item()
    return None if value is None else value.astimezone(UTC)


def test_the_files_suspension_instant_is_kept(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, tmp_path / "s.csv",
                     f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,2026-09-10T00:00:00+08:00",
                     f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,")
    assert not report.problems  # type: ignore[attr-defined]
    assert _since(engine, A) == datetime(2026, 9, 10, tzinfo=CN).astimezone(UTC)
    assert _since(engine, B) == NOW  # no instant in the file: since the register learnt it
    # the file corrects the instant later: taken; the same file again changes nothing
    later = _import(engine, tmp_path / "s2.csv",
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,2026-09-12T00:00:00+08:00",
                    now=NOW + timedelta(days=1))
    assert later.updated == 1  # type: ignore[attr-defined]
    assert _since(engine, A) == datetime(2026, 9, 12, tzinfo=CN).astimezone(UTC)


def test_a_suspension_instant_that_cannot_hold_is_reported(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, tmp_path / "s.csv",
                     f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,2026-09-10T00:00:00+08:00",
                     f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,yesterday",
                     f"{C},c3,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,2024-01-01T00:00:00+08:00")
    problems = {(p.line, p.field) for p in report.problems}  # type: ignore[attr-defined]
    assert problems == {(2, "suspended_at"), (3, "suspended_at"), (4, "suspended_at")}
