"""The store's plan fee (and bill preview) of the month a line changes owner with its activation kept (过户: the
register's ``holder_since`` inside the period) is what the bill run charges the current customer.

Line A (basic-39, 39.00 a month) is customer c1's since 2025; from 10 March 2026 (local midnight) it is customer
c9's. Each made a call to Hong Kong (3.00): c1 on 5 March, c9 on 20 March. B, unchanged, is the control.
The bill run charges c9 the fee of 22 of 31 days (27.68) and c9's call only.

Before: the store counted the fee's days from the activation (31 days, 39.00) for every reader (the assistant had a
correction of its own, the API and the console none), and its preview of the unissued bill charged c1's call to c9
too (45.00). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, B, invoke, rec

from fairtel.bootstrap import bootstrap
from fairtel.care._holding import holding_view
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.money import Money
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import StoreCareData, import_subscribers, store_catalog
from fairtel.store._schema import Bill, BillLine, table_of

CN = timezone(timedelta(hours=8))
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
HK = "85261234567"


def _call(rid: str, msisdn: str, day: int) -> dict[str, Any]:
    return rec(rid, msisdn, duration_s=61, peer=HK, started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


@pytest.fixture
def home(tmp_path: Path, database: str | None) -> Path:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
                              f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    second.write_text(HEADER + f"{A},c9,basic-39,2025-01-01T00:00:00+08:00,active,en,sh,2026-03-10T00:00:00+08:00\n"
                               f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, first, now=datetime(2026, 1, 5, tzinfo=CN)).accepted == 2
        assert import_subscribers(conn, second, now=datetime(2026, 3, 11, tzinfo=CN)).accepted == 2
    calls = [_call("c1-call", A, 5), _call("c9-call", A, 20), _call("b-call", B, 12)]
    app.lake.write("usage", P, pa.Table.from_pylist(calls, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    return home


def _read(home: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(A's and B's plan fee as the store tells it, and the preview of their bills), read through a fresh store."""
    app = bootstrap(load_settings(home=home))
    try:
        data = StoreCareData(app.db, app.settings.lake_dir, load_catalog(default_catalog_path()))
        view = holding_view(data)  # what the assistant reads
        fees = {m: data.plan_fee(m, P) for m in (A, B)}
        assert view.plan_fee(A, P) == fees[A]  # type: ignore[attr-defined]
        return fees, {m: data.bill(m, P) for m in (A, B)}
    finally:
        app.close()


def _issued_fee(home: Path, msisdn: str) -> tuple[int, int]:
    """(amount in minor units, days) of the plan fee line of ``msisdn``'s issued bill."""
    app = bootstrap(load_settings(home=home))
    try:
        b, bl = table_of(Bill), table_of(BillLine)
        with app.db.connect() as conn:
            row = conn.execute(select(bl.c.amount_minor, bl.c.quantity).join(b, b.c.bill_id == bl.c.bill_id)
                               .where((b.c.msisdn == msisdn) & (b.c.period == P) & (bl.c.kind == "plan_fee"))).one()
        return int(row.amount_minor), int(row.quantity)
    finally:
        app.close()


def test_the_store_s_plan_fee_of_an_owner_change_month_is_what_the_bill_run_charges(home: Path) -> None:
    fees, previews = _read(home)
    a, b = fees[A], fees[B]
    assert a is not None and b is not None
    assert (a.days, a.period_days, a.charged) == (22, 31, Money.of("27.68", "CNY")), a  # 10–31 March
    assert (b.days, b.charged) == (31, Money.of("39.00", "CNY")), b
    # the preview of the unissued bill: c9's fee and c9's call, nothing of c1's, told neither charged nor held
    preview = previews[A]
    assert preview is not None and not preview.issued
    assert {i.kind: i.amount_minor for i in preview.items} == {"plan_fee": 2768, "voice": 300}, preview.items
    assert preview.total_minor == 3068 and preview.held_minor == 0

    run = json.loads(invoke(home, "bill", "--period", P, "--issue", "--json").stdout)
    issued = {s["msisdn"]: s for s in run["sample"]}
    assert issued[A]["total"] == "30.68" and issued[B]["total"] == "42.00"
    for msisdn, fee in fees.items():
        assert fee is not None
        assert _issued_fee(home, msisdn) == (fee.charged.to_minor(), fee.days)
    # once issued, the store tells the issued bill's fee with the same days
    after, bills = _read(home)
    assert after == fees
    assert bills[A] is not None and bills[A].issued and bills[A].total_minor == preview.total_minor
