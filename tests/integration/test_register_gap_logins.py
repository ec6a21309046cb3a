"""A register import that gives a line to a new holder (a later ``activated_at``) or to another customer disables
the line's subscriber logins in use, in the import's own transaction, and its report counts them without printing
the numbers in full. Before, the earlier holder's login stayed in use and opened the new holder's account wherever
the line's status history does not show the earlier holding (a database never backfilled). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.store import import_subscribers
from fairtel.store._schema import User, table_of

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
A, B, C, D = "8613800000001", "8613800000002", "8613800000003", "8613800000004"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _register(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _login(engine: Engine, username: str, msisdn: str, created_at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(table_of(User).insert().values(username=username, password_hash="x", role="subscriber",
                                                    msisdn=msisdn, disabled=False, created_at=created_at))


def _disabled(engine: Engine) -> dict[str, bool]:
    t = table_of(User)
    with engine.connect() as conn:
        return {r.username: bool(r.disabled) for r in conn.execute(select(t.c.username, t.c.disabled))}


def test_a_line_given_to_a_new_holder_or_customer_loses_its_earlier_logins(engine: Engine, tmp_path: Path) -> None:
    first = _register(tmp_path / "first.csv",
                      f"{A},cu-1,basic-39,2023-01-23T17:02:19+08:00,active,zh,zhejiang",
                      f"{B},cu-2,basic-39,2023-01-23T17:02:19+08:00,active,zh,zhejiang",
                      f"{C},cu-3,basic-39,2023-01-23T17:02:19+08:00,active,zh,zhejiang",
                      f"{D},cu-4,basic-39,2023-01-23T17:02:19+08:00,active,zh,zhejiang")
    with engine.begin() as conn:
        import_subscribers(conn, first, now=NOW, timezone="Asia/Shanghai")
    _login(engine, "holder-a", A, datetime(2024, 5, 1, tzinfo=UTC))
    _login(engine, "holder-b", B, datetime(2024, 5, 1, tzinfo=UTC))
    _login(engine, "holder-c", C, datetime(2024, 5, 1, tzinfo=UTC))
    # a login made after D's new activation but before the import told of it: whose it is is not known (the
    # earlier holder's, as in a register learnt late), so it is disabled too
    _login(engine, "late-d", D, datetime(2026, 10, 25, tzinfo=UTC))

    second = _register(tmp_path / "second.csv",
                       f"{A},cu-9,payg,2026-10-20T10:00:00+08:00,active,en,beijing",  # a new holder
                       f"{B},cu-8,basic-39,2023-01-23T17:02:19+08:00,active,zh,zhejiang",  # another customer
                       f"{C},cu-3,payg,2023-01-23T17:02:19+08:00,active,zh,zhejiang",  # a plan change only
                       f"{D},cu-7,payg,2026-10-20T10:00:00+08:00,active,zh,zhejiang")
    with engine.begin() as conn:
        report = import_subscribers(conn, second, now=NOW, timezone="Asia/Shanghai")

    assert _disabled(engine) == {"holder-a": True, "holder-b": True, "holder-c": False, "late-d": True}
    assert report.updated == 4 and report.rejected == 0
    out = report.to_dict()
    assert out["logins_disabled"] == 3
    said = json.dumps(out, ensure_ascii=False)
    assert "…0001" in said and "…0002" in said and "…0004" in said and "…0003" not in said
    assert not any(n in said for n in (A, B, C, D))  # the numbers are not printed in full

    # importing the same file again disables nothing more and says nothing
    with engine.begin() as conn:
        again = import_subscribers(conn, second, now=NOW, timezone="Asia/Shanghai")
    assert again.to_dict()["logins_disabled"] == 0 and again.to_dict()["notes"] == []


def test_the_logins_are_disabled_in_the_import_s_transaction(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "a.csv", f"{A},cu-1,basic-39,2023-01-23T17:02:19+08:00,active,zh,"),
                           now=NOW, timezone="Asia/Shanghai")
    _login(engine, "holder-a", A, datetime(2024, 5, 1, tzinfo=UTC))
    moved = _register(tmp_path / "b.csv", f"{A},cu-9,payg,2026-10-20T10:00:00+08:00,active,en,")
    t = table_of(User)
    with engine.connect() as conn:
        undone = conn.begin()
        import_subscribers(conn, moved, now=NOW, timezone="Asia/Shanghai")
        assert conn.scalar(select(t.c.disabled).where(t.c.username == "holder-a"))
        undone.rollback()  # an import rolled back leaves the login as it was, with the line
    assert _disabled(engine) == {"holder-a": False}
    with engine.begin() as conn:
        import_subscribers(conn, moved, now=NOW, timezone="Asia/Shanghai")
    assert _disabled(engine) == {"holder-a": True}
