"""The bill run reads the register and the pending adjustments a chunk at a time, when the chunk is billed: no query
asks the store for the whole register's lines or entries, each asks for one chunk's at most, and every line is read
once. The bills (every line, total, carried entry) and the notes are those of a run given the whole register and
every pending entry at once (``run_bills``), an earlier holder's entries included (the oldest named as the example
although its chunk comes later). An entry in another currency still refuses the run before any chunk is read.
On SQLite and PostgreSQL.

Before: the bill run read every line (``list_subscribers``, ``plans_in_force``) and every pending entry
(``pending_adjustments``) up front, whatever the chunk size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

import fairtel.store
import fairtel.store._billing
import fairtel.store._subscribers
from fairtel.billing import AdjustmentEntry, AdjustmentKind, Bill, run_bills
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import _billing
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import CurrencyMismatchError
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import (
    bill_periods,
    bills_of_period,
    import_subscribers,
    pending_adjustments,
    record_adjustments,
    store_catalog,
)

CN = timezone(timedelta(hours=8))
P = "2026-03"
NOW = datetime(2026, 4, 2, 9, tzinfo=CN)
TEXT = default_catalog_path().read_text(encoding="utf-8")
CATALOG = load_catalog(default_catalog_path())
CHUNK = 4
LINES = 13
PLANS = ("basic-39", "payg", "senior-19")


def num(i: int) -> str:
    return f"86138000000{i:02d}"


def entry(aid: str, i: int, minor: int, created: datetime, **kw: Any) -> AdjustmentEntry:
    return AdjustmentEntry(aid, kw.pop("kind", AdjustmentKind.CREDIT), num(i), minor, kw.pop("currency", "CNY"),
                           "goodwill", created, "care", **kw)


@pytest.fixture
def home(tmp_path: Path, database: str | None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """13 lines (a chunk is 4): line 5 closed on 20 March, lines 2 and 9 activated in March for a new holder (each
    with an entry of the earlier holder's: line 9's, in a later chunk, the older), carried and left entries."""
    monkeypatch.setenv("FAIRTEL_BILL_CHUNK", str(CHUNK))
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    rows = ["msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at"]
    for i in range(LINES):
        active = {2: "2026-03-12T08:00:00+08:00", 9: "2026-03-10T08:00:00+08:00"}.get(i, "2025-01-01T00:00:00+08:00")
        status, closed = ("closed", "2026-03-20T12:00:00+08:00") if i == 5 else ("active", "")
        rows.append(f"{num(i)},c{i},{PLANS[i % 3]},{active},{status},zh,sh,{closed}")
    (tmp_path / "subscribers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, tmp_path / "subscribers.csv").accepted == LINES
        record_adjustments(conn, [
            entry("adj-a", 2, 300, datetime(2026, 2, 1, tzinfo=CN)),  # earlier holder's
            entry("adj-z", 9, 700, datetime(2026, 1, 15, tzinfo=CN)),  # earlier holder's, the oldest
            entry("adj-b", 1, 500, datetime(2026, 3, 5, tzinfo=CN)),
            entry("adj-c", 7, 120, datetime(2026, 3, 6, tzinfo=CN), kind=AdjustmentKind.DEBIT, period="2026-02"),
            entry("adj-d", 11, 250, datetime(2026, 3, 7, tzinfo=CN), period=P),  # corrects March: not carried
            entry("adj-e", 12, 40, datetime(2026, 3, 8, tzinfo=CN), kind=AdjustmentKind.DEBIT),
            entry("adj-f", 20, 90, datetime(2026, 3, 8, tzinfo=CN)),  # no line holds the number
        ])
    usage: list[dict[str, Any]] = []
    for i in range(LINES):
        for k in range(i % 3 + 1):
            row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
            usage.append(row | {"record_id": f"r{i}-{k}", "source": "sw1", "msisdn": num(i), "kind": "voice",
                                "direction": "out", "started_at": datetime(2026, 3, 15 + k, 10, tzinfo=CN).astimezone(UTC),
                                "peer": "85261234567" if k == 1 else "8613912345678", "duration_s": 61 + 60 * k,
                                "parts": 1, "incomplete": False})
    app.lake.write("usage", P, pa.Table.from_pylist(usage, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P, CATALOG.operator.timezone), catalog=CATALOG)
    app.close()
    return home


def whole_run(app: App) -> Any:
    """The run given the whole register and every pending entry at once, as the bill run was given them before."""
    per = Period.parse(P, CATALOG.operator.timezone)
    with app.db.connect() as conn:
        pending = pending_adjustments(conn)
        periods = bill_periods(conn, [e.bill_id for e in pending if e.bill_id is not None])
    rated = pl.read_parquet(app.lake.files("rated", periods=[P]))
    return run_bills(rated, CATALOG, _billing._accounts(app, per), period=per, issued_at=NOW, run_id="whole",
                     adjustments=pending, bill_periods=periods)


def content(bills: Any) -> list[tuple[Any, ...]]:
    def one(b: Bill) -> tuple[Any, ...]:
        return (b.bill_id, b.msisdn, b.plan_id, b.total_minor, b.tax_minor,
                [(ln.line_no, ln.kind.value, ln.description, ln.rule_id, ln.quantity, ln.amount_minor, ln.adjustment_id)
                 for ln in b.lines])
    return sorted(one(b) for b in bills)


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, calls: list[tuple[Any, ...]]) -> None:
    """Record each call of ``module.name``: its arguments and how many rows it returned."""
    real: Callable[..., Any] | None = getattr(module, name, None)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        assert real is not None
        out = real(*args, **kwargs)
        calls.append((name, args[1:], kwargs, len(out) if hasattr(out, "__len__") else None))
        return out

    monkeypatch.setattr(module, name, wrapped, raising=False)


def test_each_chunk_reads_its_own_lines_and_entries(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = bootstrap(load_settings(home=home))
    try:
        want = whole_run(app)
        # the fixture reaches what it claims: carried entries, the earlier holders' note naming the older entry
        assert sum(len(b.adjustment_ids) for b in want.bills) == 3
        assert any("adj-z" in n and "2 adjustment(s)" in n for n in want.notes), want.notes

        whole: list[tuple[Any, ...]] = []  # the loaders of the whole register or ledger: never asked
        for name in ("list_subscribers", "plans_in_force", "pending_adjustments"):
            spy(monkeypatch, fairtel.store, name, whole)
            spy(monkeypatch, fairtel.store._subscribers, name, whole)
            spy(monkeypatch, fairtel.store._billing, name, whole)
        lines: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        spy(monkeypatch, fairtel.store._subscribers, "lines_in_force", lines)
        spy(monkeypatch, fairtel.store._billing, "pending_adjustments_between", entries)

        out = _billing.bill_period(app, P, catalog=CATALOG, issue=True, now=NOW)

        assert whole == []
        assert lines, "the run read no line a chunk at a time"
        assert max(n for *_, n in lines) <= CHUNK
        assert sum(n for *_, n in lines) == LINES  # each line read once
        assert len(lines) >= -(-LINES // CHUNK)
        assert entries and max(n for *_, n in entries) <= CHUNK
        with app.db.connect() as conn:
            issued = bills_of_period(conn, P)
        assert content(issued) == content(want.bills)
        assert out["bills"] == len(want.bills) == LINES
        assert out["adjustments_carried"] == 3
        assert out["notes"][:len(want.notes)] == list(want.notes)
    finally:
        app.close()


def test_an_entry_in_another_currency_refuses_the_run_before_any_chunk(home: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            record_adjustments(conn, [entry("adj-usd", 10, 100, datetime(2026, 3, 9, tzinfo=CN), currency="USD")])
        lines: list[tuple[Any, ...]] = []
        spy(monkeypatch, fairtel.store._subscribers, "lines_in_force", lines)
        with pytest.raises(CurrencyMismatchError, match="adj-usd is in USD"):
            _billing.bill_period(app, P, catalog=CATALOG, issue=True, now=NOW)
        assert [c for c in lines if c[2].get("first") is not None] == []  # no chunk was read
        with app.db.connect() as conn:
            assert bills_of_period(conn, P) == []
    finally:
        app.close()
