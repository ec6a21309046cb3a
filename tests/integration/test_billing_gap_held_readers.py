"""Readers that count what subscribers are charged leave out usage held off the bill (rated lines with verdict
``line_suspended``: made after the line's suspension, charged only if released). Bill shock (`fairtel assure`),
churn's usage charges (`fairtel churn warn` / retention's revenue) and plan advice (`fairtel advise`) counted a
suspended line's held calls as charges."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._assure import _from_home
from fairtel.cli._insight import _home_data
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, import_subscribers, store_catalog, suspend_line

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
CATALOG = load_catalog(default_catalog_path())
BEFORE = 3 * 19  # b-before: 125 s at 0.19 a started minute, the one call B made before its suspension


def _day(day: int) -> dict[str, Any]:
    return {"started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """B, pay-as-you-go, suspended on 15 March, called before and after (a long call, a roaming one): rated."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        suspend_line(conn, B, at=datetime(2026, 3, 15, 12, tzinfo=CN).astimezone(UTC), audit=who, reason="case 1")
    rows = [rec("a1", A, duration_s=61), rec("b-before", B, duration_s=125, **_day(5)),
            rec("b-after", B, duration_s=6000, **_day(18)), rec("b-roam", B, duration_s=900, roaming_country="JP", **_day(20))]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    assert rate_period(app, Period.parse(P), catalog=CATALOG)["held_records"] == 2
    app.close()
    return home


def test_bill_shock_reads_what_the_bills_charge(home: Path) -> None:
    app = open_app(home)
    inputs = _from_home(home, app.settings.lake_dir, catalog=None, fapp=app)
    app.close()
    assert inputs.rated is not None
    charged = inputs.rated.filter(inputs.rated["msisdn"] == B)
    assert sorted(charged["record_id"].to_list()) == ["b-before"]
    assert int(charged["amount_minor"].sum()) == BEFORE


def test_churn_usage_charges_leave_held_usage_out(home: Path) -> None:
    app = open_app(home)
    data = _home_data(app, CATALOG)
    app.close()
    assert data.charges is not None
    assert int(data.charges.filter(data.charges["msisdn"] == B)["amount_minor"].sum()) == BEFORE


def test_advice_prices_the_months_as_billed(home: Path) -> None:
    result = CliRunner().invoke(fairtel, ["advise", "--explain", B, "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    plans = {p["plan_id"]: p for p in json.loads(result.stdout)["explain"]["plans"]}
    assert plans["payg"]["current"] and plans["payg"]["total_minor"] == BEFORE
