"""A closed line's usage dated after its ``closed_at`` (a switch error, a recycled number used by someone else), and
a line's usage dated before its ``activated_at``, go through `fairtel rate` and `fairtel bill` held, never billed:
counted in the rating's totals, kept in the ``held_usage`` dataset, listed by `fairtel bill held`, refused by `fairtel
bill release` (not the subscriber's usage) and written off with ``--write-off``. Before, the bill run billed a
closed account's usage whatever its date ("its usage and adjustments are billed")."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, as_json, cli, open_app, rec, runner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
P = "2026-03"


def _day(day: int, hour: int = 10) -> dict[str, Any]:
    return {"started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A (pay-as-you-go) closed on 15 March at noon, with calls before and after; B in service; C activated on 10
    March, with a call of the number's previous holder before."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,closed,zh,sh,2026-03-15T12:00:00+08:00\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh,\n"
        f"{C},c3,payg,2026-03-10T00:00:00+08:00,active,en,sh,\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
    rows = [
        rec("a-before", A, duration_s=125, **_day(5)),
        rec("a-after", A, duration_s=600, **_day(18)),
        rec("a-sms", A, kind="sms", duration_s=None, **_day(20)),
        rec("b", B, duration_s=61, **_day(18)),
        rec("c-before", C, duration_s=300, **_day(5)),
        rec("c-after", C, duration_s=90, **_day(12)),
    ]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    return home


def test_usage_outside_the_lines_service_is_held_listed_and_only_written_off(home: Path) -> None:
    app = open_app(home)
    totals = rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    # held records are rated records: rated + unrated is every record, the held ones among the rated
    assert totals["records"] == 6 and totals["unrated"] == 0
    assert sum(k["records"] for k in totals["by_kind"].values()) == 6
    assert totals["held_records"] == 3 and totals["held_by_reason"] == {"line_closed": 2, "before_activation": 1}
    rated = pl.read_parquet(app.lake.files("rated", periods=[P]))
    assert dict(rated.select("record_id", "verdict").unique().iter_rows()) == {
        "a-before": None,
        "a-after": "line_closed",
        "a-sms": "line_closed",
        "b": None,
        "c-before": "before_activation",
        "c-after": None,
    }

    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["held_records"] == 3 and issued["held_subscribers"] == 2
    assert issued["held_by_reason"] == {"before_activation": 1, "line_closed": 2}
    assert any("never charged" in n for n in issued["notes"])
    billed = pl.read_parquet(app.lake.files("billed", periods=[P]))
    assert set(billed["record_id"]) == {"a-before", "b", "c-after"}
    a = next(x for x in issued["sample"] if x["msisdn"] == A)
    before = rated.filter(pl.col("record_id") == "a-before")["amount_minor"].sum()
    assert a["charges"] == f"{before / 100:.2f}"  # the call before the closing alone
    kept = pl.read_parquet(app.lake.files("held_usage", periods=[P]))
    assert dict(kept.select("record_id", "verdict").unique().iter_rows()) == {
        "a-after": "line_closed",
        "a-sms": "line_closed",
        "c-before": "before_activation",
    }

    listed = as_json(home, "bill", "held", "--period", P)
    assert listed["records"] == 3 and listed["by_status"] == {"pending": 3}
    assert {h["record_id"]: h["reason"] for h in listed["held"]} == {
        "a-after": "line_closed",
        "a-sms": "line_closed",
        "c-before": "before_activation",
    }

    # a release named by record is refused, saying why; a release of all of them leaves them pending, said in a note
    refused = runner.invoke(
        cli(), ["bill", "release", "--period", P, "--by", "analyst1", "--record", "a-after", "--home", str(home)]
    )
    assert refused.exit_code != 0
    assert "after the line closed" in refused.output and "--write-off" in refused.output
    every = as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--all")
    assert every["records"] == 0 and every["not_releasable"] == 3 and every["adjustments_issued"] == 0
    assert any("not released" in n for n in every["notes"])
    assert as_json(home, "bill", "held", "--period", P)["by_status"] == {"pending": 3}

    off = as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--msisdn", A, "--write-off")
    assert off["records"] == 2 and off["adjustments_issued"] == 0 and off["not_releasable"] == 0
    listed = as_json(home, "bill", "held", "--period", P)
    assert {h["record_id"]: h["status"] for h in listed["held"]} == {
        "a-after": "written_off",
        "a-sms": "written_off",
        "c-before": "pending",
    }
    # never charged afterwards: a rerate issues nothing for them, nor does the next period's bill
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
    app.close()
