"""The month's bill of a line that changed owner (过户: ``holder_since`` inside the period) charges the new customer
nothing for usage their plan's allowance covers, and a rerate with the tariff unchanged corrects nothing.

Line A (basic-39: 39.00 a month, 300 domestic minutes) is customer c1's; from 10 March 2026 it is customer c9's. c1
called 300 minutes on 5 March, c9 10 minutes on 20 March. B, unchanged, made the same calls.

Before: `fairtel rate` drew A's allowance in time order across the change, so c1's minutes used it up, and c9's bill
charged the 10 minutes (1.50) that c9's plan includes. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, B, as_json, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"


def _call(rid: str, msisdn: str, day: int, minutes: int) -> dict[str, Any]:
    return rec(rid, msisdn, duration_s=minutes * 60, started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


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
    calls = [_call("c1-call", A, 5, 300), _call("c9-call", A, 20, 10), _call("b-early", B, 5, 300),
             _call("b-late", B, 20, 10)]
    app.lake.write("usage", P, pa.Table.from_pylist(calls, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    return home


def test_the_new_customer_s_bill_charges_nothing_their_allowance_covers(home: Path) -> None:
    run = as_json(home, "bill", "--period", P, "--issue")
    fee_c9 = (Decimal("39") * 22 / 31).quantize(Decimal("0.01"))  # 10–31 March
    a = next(b for b in run["sample"] if b["msisdn"] == A)
    assert Decimal(a["total"]) == fee_c9, a  # c9's 10 minutes from c9's own 300
    b = next(b for b in run["sample"] if b["msisdn"] == B)
    assert Decimal(b["total"]) == Decimal("39.00") + Decimal("1.50")  # unchanged: 10 minutes past its allowance
    assert run["held_by_reason"] == {"before_holding": 1}  # c1's call, on no bill
    # a rerate with the tariff unchanged finds every billed line as it was
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0


@pytest.fixture
def billed_before_the_change(tmp_path: Path, database: str | None) -> Path:
    """March rated and billed while the register still names c1 as A's customer (c9 charged 1.50 for 10 minutes
    past an allowance c1 used up); then the register learns that A is c9's since 10 March."""
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
    calls = [_call("c1-call", A, 5, 300), _call("c9-call", A, 20, 10)]
    app.lake.write("usage", P, pa.Table.from_pylist(calls, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    run = as_json(home, "bill", "--period", P, "--issue")
    a = next(b for b in run["sample"] if b["msisdn"] == A)
    assert Decimal(a["total"]) == Decimal("40.50"), a  # the month's fee and 10 minutes past the allowance
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        assert import_subscribers(conn, second, now=datetime(2026, 4, 2, tzinfo=CN)).accepted == 2
    app.close()
    return home


def test_a_rerate_after_the_change_is_learnt_credits_the_new_customer_s_allowance(billed_before_the_change: Path) -> None:
    from fairtel.store import adjustments_of

    rr = as_json(billed_before_the_change, "rerate", "--period", P)
    app = bootstrap(load_settings(home=billed_before_the_change))
    with app.db.connect() as conn:
        entries = sorted((e.record_id or "", e.signed_minor) for e in adjustments_of(conn, A))
    app.close()
    # c9's 10 minutes come from c9's own allowance: the 1.50 charged for them is credited, besides the fee from the
    # change and c1's call (free under c1's allowance: nothing to credit)
    assert ("c9-call", -150) in entries, entries
    fee_c9 = (Decimal("39") * 22 / 31).quantize(Decimal("0.01"))
    assert Decimal("40.50") + Decimal(rr["net"]) == fee_c9, rr
