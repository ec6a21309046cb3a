"""A line suspended by a confirmed fraud case (``suspend_line``): its usage made since, rated by `fairtel rate` or
online by `fairtel watch --rate`, is held. `fairtel bill` leaves it off the bill and reports it, the statement shows
it outside the total, a rerun or a rerate never charges it (nor usage of the line rated after the bill), and only
`fairtel bill release` charges it, once, as a debit on the next bill; a write-off is never charged. Before, all of
it was billed like any other usage, with no flag."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, as_json, invoke, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_gate, home_plans
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import OnlineRater
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, access_log, import_subscribers, store_catalog, suspend_line

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
SUSPENDED = datetime(2026, 3, 15, 12, tzinfo=CN)


def _day(day: int) -> dict[str, Any]:
    return {"started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A on basic-39; B on pay-as-you-go, suspended on 15 March by a confirmed SIM-box case, with calls before and
    after (a late switch record, a roaming one)."""
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
        assert suspend_line(conn, B, at=SUSPENDED.astimezone(UTC), audit=who, reason="simbox case 1 confirmed") == "suspended"
    rows = [rec("a1", A, duration_s=61), rec("b-before", B, duration_s=125, **_day(5)),
            rec("b-after", B, duration_s=600, **_day(18)), rec("b-roam", B, duration_s=90, roaming_country="JP", **_day(20))]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    return home


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_held_usage_from_rating_to_release(home: Path) -> None:
    app = open_app(home)
    totals = rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    issued = as_json(home, "bill", "--period", P, "--issue")
    b = next(x for x in issued["sample"] if x["msisdn"] == B)
    assert b["charges"] == "0.57"  # only the call before the suspension: 3 min × 0.19
    assert totals["held_records"] == 2 and totals["held_by_reason"] == {"line_suspended": 2}
    assert totals["records"] == 4 and totals["unrated"] == 0  # held records are rated records: the counts add up
    assert issued["held_records"] == 2 and issued["held_subscribers"] == 1 and issued["held"] != "0.00"
    assert any("held, not billed" in n for n in issued["notes"])
    assert len(app.lake.files("held_usage", periods=[P])) == 1

    en = _rows(invoke(home, "bill", "statement", B, "--period", P).stdout)  # B reads English
    total = next(i for i, r in enumerate(en) if r[0] == "Total due")
    assert en[total][9] == b["total"] and en[total + 1][0] == "Held, not billed"
    assert {r[0] for r in en[total + 2:-1]} == {"Held, not billed"} and len(en[total + 2:-1]) == 2
    assert en[-1][0].startswith("Total held") and en[-1][9] == issued["held"]
    zh = invoke(home, "bill", "statement", B, "--period", P, "--lang", "zh").stdout
    assert "暂缓计费" in zh and "停机后产生的用量" in zh

    # a rerun charges nothing; a roaming record of the period arriving after the bill is held too
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["unbilled_late_records"] == 0 and again["held_late_records"] == 0
    app.lake.write("usage", P, pa.Table.from_pylist([rec("b-tap", B, duration_s=300, roaming_country="JP", **_day(25))],
                                                    schema=CLEAN_USAGE_SCHEMA), part="tap")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["unbilled_late_records"] == 0 and again["held_late_records"] == 1
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["held_records"] == 3  # never charged as late usage

    listed = as_json(home, "bill", "held", "--period", P)
    assert listed["records"] == 3 and listed["by_status"] == {"pending": 3}
    assert {h["record_id"] for h in listed["held"]} == {"b-after", "b-roam", "b-tap"}
    price = {h["record_id"]: h["amount"] for h in listed["held"]}

    released = as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--record", "b-after",
                       "--note", f"customer {B} confirmed the calls")
    assert released["adjustments_issued"] == 1 and released["charged"] == price["b-after"]  # untaxed home
    assert as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--record", "b-after")["adjustments_issued"] == 0
    off = as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--msisdn", B, "--write-off")
    assert off["records"] == 2 and off["adjustments_issued"] == 0 and off["skipped"] == 1
    listed = as_json(home, "bill", "held", "--period", P)
    assert {h["record_id"]: h["status"] for h in listed["held"]} == {"b-after": "released", "b-roam": "written_off",
                                                                     "b-tap": "written_off"}
    assert as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--all")["adjustments_issued"] == 0
    with app.db.connect() as conn:
        audit = [r for r in access_log(conn, actor="analyst1") if r.action.startswith("held_usage.")]
    assert len(audit) == 3 and all(B not in (r.reason or "") and r.role == "fraud_analyst" for r in audit)

    # the released record is corrected as a billed one from now on: an unchanged tariff issues nothing
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    b_april = next(x for x in april["sample"] if x["msisdn"] == B)
    assert b_april["adjustments"] == price["b-after"]
    st = invoke(home, "bill", "statement", B, "--period", "2026-04", "--lang", "en").stdout
    assert "held usage of 2026-03 released: record b-after" in st
    app.close()


def test_a_hold_recorded_by_the_bill_run_outlives_the_lines_return_to_service(home: Path, tmp_path: Path) -> None:
    app = open_app(home)
    catalog = load_catalog(default_catalog_path())
    rate_period(app, Period.parse(P), catalog=catalog)
    charged = as_json(home, "bill", "--period", P, "--issue")
    assert next(x for x in charged["sample"] if x["msisdn"] == B)["charges"] == "0.57"
    back = tmp_path / "back.csv"  # B back in service: the register no longer says it was suspended
    back.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        import_subscribers(conn, back)
    totals = rate_period(app, Period.parse(P), catalog=catalog)
    assert totals["held_records"] == 2  # rated again: the line's status history still holds them
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["held_records"] == 2  # the bill run's hold stands
    assert {h["record_id"] for h in as_json(home, "bill", "held", "--period", P)["held"]} == {"b-after", "b-roam"}
    app.close()


def test_online_rating_holds_as_the_batch_run_does(home: Path) -> None:
    app = open_app(home)
    catalog = load_catalog(default_catalog_path())
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app), gate=home_gate(app, catalog))
    parts = [app.lake.files("usage", periods=[P])[0]]
    rater.rate_file("t1", parts, arrived_at=datetime(2026, 3, 21, tzinfo=CN))
    online = pl.read_parquet(app.lake.files("rated", periods=[P])).select("record_id", "amount_minor", "verdict").sort("record_id")
    rate_period(app, Period.parse(P), catalog=catalog)
    batch = pl.read_parquet(app.lake.files("rated", periods=[P])).select("record_id", "amount_minor", "verdict").sort("record_id")
    assert online.equals(batch)
    assert dict(online.select("record_id", "verdict").iter_rows()) == {
        "a1": None, "b-before": None, "b-after": "line_suspended", "b-roam": "line_suspended"}
    app.close()
