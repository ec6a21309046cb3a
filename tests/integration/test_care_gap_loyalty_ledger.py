"""A line's loyalty balance never goes below zero, on SQLite and PostgreSQL: an imported redemption is checked
against the entries booked after it as well as against the balance at its own time, and two redemptions of one
line at the same moment are decided one after the other.

Before: a back-dated redemption was only checked at its own date, so 574 points redeemed on 2026-11-20 and again,
back-dated, on 2026-10-15 left −574; and two redemptions in chat at once both read the old balance (PostgreSQL:
both booked, −401; SQLite: the second failed with "database is locked")."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import ConflictError
from fairtel.store import Customer, StoreCareData, Subscriber
from fairtel.store._care import import_loyalty
from fairtel.store._schema import LoyaltyEntry, table_of

LINE = "8618630536911"
AT = datetime(2026, 1, 1, tzinfo=UTC)
CHAT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _register(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cu-1", created_at=AT))
        conn.execute(table_of(Subscriber).insert().values(
            msisdn=LINE, customer_id="cu-1", plan_id="basic-39", activated_at=AT, status="active", language="zh", region=None,
            updated_at=AT))


def _entry(entry_id: str, kind: str, points: int, booked_at: str) -> dict[str, Any]:
    return {"entry_id": entry_id, "msisdn": LINE, "kind": kind, "points": points, "reason": "话费券", "booked_at": booked_at}


def _import(engine: Engine, tmp_path: Path, *entries: dict[str, Any]) -> Any:
    path = tmp_path / "loyalty.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    with engine.begin() as conn:
        return import_loyalty(conn, path)


def _balance(engine: Engine) -> int:
    t = table_of(LoyaltyEntry)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.kind, t.c.points).where(t.c.msisdn == LINE)).all()
    return sum(p if k == "earn" else -p for k, p in rows)


def _port(engine: Engine, tmp_path: Path) -> StoreCareData:
    return StoreCareData(engine, tmp_path / "lake", load_catalog(default_catalog_path()), clock=lambda: CHAT)


def test_a_back_dated_redemption_cannot_spend_points_a_later_one_spent(engine: Engine, tmp_path: Path) -> None:
    _register(engine)
    assert _import(engine, tmp_path, _entry("earn-1", "earn", 574, "2026-09-01T03:00:00+08:00")).accepted == 1
    assert _import(engine, tmp_path, _entry("neg-a", "redeem", 574, "2026-11-20T10:00:00+08:00")).accepted == 1
    report = _import(engine, tmp_path, _entry("neg-b", "redeem", 574, "2026-10-15T10:00:00+08:00"))
    assert (report.read, report.accepted, report.duplicate, report.rejected) == (1, 0, 0, 1)
    (problem,) = report.problems
    assert (problem.line, problem.field, problem.code) == (1, "points", "balance")
    assert "-574" in problem.message and "after it" in problem.message, problem.message
    assert _balance(engine) == 0

    # a back-dated redemption that leaves every later balance at zero or above is taken; one that would leave the
    # stored 2026-11-20 redemption short is not, though the balance at its own time covers it
    report = _import(engine, tmp_path, _entry("earn-2", "earn", 1000, "2026-10-01T03:00:00+08:00"),
                     _entry("back-ok", "redeem", 400, "2026-10-15T10:00:00+08:00"),
                     _entry("back-no", "redeem", 700, "2026-10-16T10:00:00+08:00"),
                     _entry("late-earn", "earn", 5000, "2026-12-01T03:00:00+08:00"))
    assert (report.read, report.accepted, report.rejected) == (4, 3, 1)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(3, "points", "balance")]
    assert "-100" in report.problems[0].message, report.problems[0].message
    assert _balance(engine) == 574 + 1000 - 400 - 574 + 5000


def test_a_back_dated_import_cannot_spend_points_redeemed_in_chat(engine: Engine, tmp_path: Path) -> None:
    _register(engine)
    assert _import(engine, tmp_path, _entry("earn-1", "earn", 1599, "2026-09-01T03:00:00+08:00")).accepted == 1
    assert _port(engine, tmp_path).redeem_points(LINE, 1400, "聊天中兑换").balance == 199
    report = _import(engine, tmp_path, _entry("back-1", "redeem", 1000, "2026-10-15T10:00:00+08:00"))
    assert (report.read, report.accepted, report.rejected) == (1, 0, 1)
    assert report.problems[0].field == "points" and report.problems[0].code == "balance"
    assert _port(engine, tmp_path).loyalty(LINE).balance == 199


def test_two_redemptions_at_the_same_moment_book_one(engine: Engine, tmp_path: Path) -> None:
    _register(engine)
    assert _import(engine, tmp_path, _entry("earn-1", "earn", 1599, "2026-09-01T03:00:00+08:00")).accepted == 1
    port = _port(engine, tmp_path)
    read = port._loyalty
    meet = threading.Barrier(2, timeout=3)  # both read the balance before either writes, unless the line is held
    waited = threading.local()

    def slow_read(conn: Any, msisdn: str) -> Any:
        facts = read(conn, msisdn)
        if not getattr(waited, "done", False):
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for the line: go on alone
                meet.wait()
        return facts

    port._loyalty = slow_read  # type: ignore[method-assign]
    results: list[Any] = []

    def redeem() -> None:
        try:
            results.append(port.redeem_points(LINE, 1000, "conc"))
        except Exception as exc:  # the test looks at what each got
            results.append(exc)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    booked = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(booked) == 1 and booked[0].balance == 599, results
    assert len(refused) == 1 and isinstance(refused[0], ConflictError), results
    assert refused[0].details == {"balance": 599, "points": 1000}
    t = table_of(LoyaltyEntry)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t).where(t.c.kind == "redeem")) == 1
    assert _balance(engine) == 599
