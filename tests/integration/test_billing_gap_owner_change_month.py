"""The month a line changes owner with its activation kept (过户: the register's ``holder_since`` inside the period).

Line A (basic-39, 39.00 a month) is customer c1's since 2025; from 10 March 2026 (local midnight) it is customer
c9's. Each made a roaming call to Hong Kong (3.00): c1 on 5 March, c9 on 20 March. B, unchanged, is the control.

The March bill of A is c9's: the plan fee for 22 of 31 days (10–31 March) and c9's call only. c1's part of March (9
days of fee, the call of the 5th) is on no bill, since the register keeps no earlier customer to bill it to: it is held
(``before_holding``) and the run reports it, in its notes and counts; every rated record is billed or held; the
statement shows c9 nothing of c1's; reconciliation explains every difference; a rerun issues nothing, and a rerate
with the tariff unchanged charges nothing of c1's to c9.

Before: the whole of March was on c9's bill: the full monthly fee and c1's call (45.00), and c9's statement listed
c1's call with its time and other party. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, B, cli, invoke, rec, runner

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


def _json(home: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(invoke(home, *args, "--json").stdout)
    return out


def _lake(home: Path, dataset: str) -> pl.DataFrame:
    files = sorted((home / "lake" / dataset / f"period={P}").glob("*.parquet"))
    return pl.read_parquet(files) if files else pl.DataFrame()


def test_the_new_customer_s_bill_covers_from_the_change_and_the_earlier_part_is_reported(home: Path) -> None:
    # the operator reading the preview's table output is told
    shown = " ".join(invoke(home, "bill", "--period", P).stdout.split())
    assert "moved to another customer during 2026-03" in shown and "before_holding" in shown
    run = _json(home, "bill", "--period", P, "--issue")
    assert run["bills"] == 2
    fee_c9 = (Decimal("39") * 22 / 31).quantize(Decimal("0.01"))  # 27.68: 10–31 March
    fee_c1 = (Decimal("39") * 9 / 31).quantize(Decimal("0.01"))  # 11.32: 1–9 March, on no bill
    a = next(b for b in run["sample"] if b["msisdn"] == A)
    assert Decimal(a["total"]) == fee_c9 + Decimal("3.00"), a  # c9's call only
    b = next(b for b in run["sample"] if b["msisdn"] == B)
    assert Decimal(b["total"]) == Decimal("42.00")  # unchanged: full fee and its call
    # c1's call is held, not billed to c9, and reported with c1's fee for their days
    assert run["held_by_reason"] == {"before_holding": 1}
    assert Decimal(run["held"]) == Decimal("3.00")
    note = next(n for n in run["notes"] if "moved to another customer during 2026-03" in n)
    assert "86138****0001" in note and A not in note and "9 day(s)" in note and f"{fee_c1} CNY" in note and "1 usage/VAS record(s)" in note
    # every rated record is on a bill or held off it, once
    rated = set(_lake(home, "rated")["record_id"].to_list())
    billed = _lake(home, "billed")["record_id"].to_list()
    held = _lake(home, "held_usage")
    assert sorted(billed + held["record_id"].to_list()) == sorted(rated)
    assert held.select("record_id", "verdict").rows() == [("c1-call", "before_holding")]


def test_the_new_customer_s_statement_shows_nothing_of_the_earlier_customer(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    for lang in ("zh", "en"):
        out = invoke(home, "bill", "statement", A, "--period", P, "--lang", lang).stdout
        assert "2026-03-20" in out and "2026-03-05" not in out
        assert "22" in out and "30.68" in out


def test_a_rerun_and_a_rerate_change_nothing_and_reconciliation_explains_the_held_part(home: Path) -> None:
    first = _json(home, "bill", "--period", P, "--issue")
    parts = {d: len(list((home / "lake" / d / f"period={P}").glob("*.parquet"))) for d in ("bills", "billed", "held_usage")}
    again = _json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["already_issued"] == 2
    assert again["unbilled_late_records"] == 0 and again["held_late_records"] == 0
    assert {d: len(list((home / "lake" / d / f"period={P}").glob("*.parquet"))) for d in parts} == parts
    rerate = _json(home, "rerate", "--period", P)
    assert rerate["adjustments_issued"] == 0 and Decimal(rerate["net"]) == 0, rerate  # c1's call is not late usage
    tie = _json(home, "bill", "reconcile", "--period", P)
    assert tie["ok"] is True and tie["unexplained"] == [], tie
    assert tie["held_by_reason"] == {"before_holding": 1}
    assert first["total"] == str(Decimal("27.68") + Decimal("3.00") + Decimal("42.00"))
    # staff see c1's record among the held ones, with its reason
    listed = invoke(home, "bill", "held", "--period", P, "--json").stdout
    assert "c1-call" in listed and "before_holding" in listed and "c9-call" not in listed
    # and cannot release it onto c9's bill: it is never c9's
    refused = runner.invoke(cli(), ["bill", "release", "--period", P, "--by", "ops", "--record", "c1-call",
                                    "--home", str(home), "--json"])
    assert refused.exit_code == 2 and "never charged" in refused.output, refused.output
