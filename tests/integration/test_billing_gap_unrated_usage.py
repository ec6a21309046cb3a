"""`fairtel bill` refuses a period whose usage is in the lake but not rated, as docs/billing.md promises: a record
ingested after the period was rated (a late switch file) was left off the bills without a word (`bill --issue`:
total without it, no note, `unbilled_late_records` 0 on the run and on every rerun), and only a later rerate found
it. A period rated online (file by file, no batch run) bills as before, and so do records rating could not price
(they are unrated, with their reason)."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, B, P, as_json, cli, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_gate, home_plans
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.engines import ArrivedFile, OnlineRater

home = base.home  # a home with three subscribers and their March usage, rated
runner = CliRunner()
CATALOG = load_catalog(default_catalog_path())


def _late(home: Path, *records: dict[str, Any], part: str = "late") -> None:
    """Records landing in the lake after the period was rated, as `fairtel ingest` of a late file writes them."""
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist(list(records), schema=CLEAN_USAGE_SCHEMA), part=part)
    app.close()


def _refused(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli(), ["bill", "--period", P, *args, "--home", str(home), "--json"])
    assert result.exit_code == 2, result.output
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    assert error["code"] == "conflict"
    return error


def test_a_late_record_stops_the_bill_run_until_it_is_rated(home: Path) -> None:
    _late(home, rec("v9", A, duration_s=100, peer="85261234567"))  # a HK call: 2 min at 1.50
    for args in (("--issue",), ()):  # issuing and the preview alike: a preview without it would show a wrong total
        error = _refused(home, *args)
        assert error["details"]["unrated_records"] == 1 and error["details"]["examples"] == ["sw1/v9"]
        assert f"fairtel rate --period {P}" in error["message"]
    app = open_app(home)
    assert app.lake.files("bills", periods=[P]) == []  # nothing issued
    rate_period(app, Period.parse(P), catalog=CATALOG)
    app.close()
    issued = as_json(home, "bill", "--period", P, "--issue")
    a = next(b for b in issued["sample"] if b["msisdn"] == A)
    assert a["charges"] == "45.00"  # 39.00 fee + the HK call of the fixture 3.00 + the late one 3.00


def test_a_record_arriving_after_the_bills_is_refused_then_reported_once_rated(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    _late(home, rec("v9", A, duration_s=100, peer="85261234567"))
    assert _refused(home, "--issue")["details"]["unrated_records"] == 1  # was: "nothing changed", 0 late records
    app = open_app(home)
    rate_period(app, Period.parse(P), catalog=CATALOG)
    app.close()
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["unbilled_late_records"] == 1
    assert as_json(home, "rerate", "--period", P)["net"] == "3.00"


def test_records_rating_could_not_price_do_not_stop_it(home: Path) -> None:
    app = open_app(home)  # a number not in the register: rated into `unrated` (unknown_subscriber), never billable
    app.lake.write("usage", P, pa.Table.from_pylist([rec("x1", "8613899999999", duration_s=60)], schema=CLEAN_USAGE_SCHEMA),
                   part="stranger")
    assert rate_period(app, Period.parse(P), catalog=CATALOG)["unrated"] == 1
    app.close()
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 3


def test_a_period_rated_online_bills_as_before(home: Path) -> None:
    """Files rated as they arrive (`fairtel watch --rate`) after the batch run: their records are rated, so the bill
    run goes on and charges them; a file not rated yet stops it."""
    app = open_app(home)
    files = []
    for i, records in enumerate(([rec("o1", A, duration_s=100, peer="85261234567")], [rec("o2", B, duration_s=60)])):
        digest = hashlib.sha256(f"online file {i}".encode()).hexdigest()
        app.lake.write("usage", P, pa.Table.from_pylist(records, schema=CLEAN_USAGE_SCHEMA), part=digest[:24])
        files.append(ArrivedFile(digest, [app.lake.part_path("usage", P, digest[:24])], datetime.now(UTC)))
    rater = OnlineRater(app.settings, catalog=CATALOG, subscribers=home_plans(app), gate=home_gate(app, CATALOG))
    rater.rate_files(files[:1])
    app.close()
    assert _refused(home)["details"]["examples"] == ["sw1/o2"]  # the second file is not rated yet
    app = open_app(home)
    OnlineRater(app.settings, catalog=CATALOG, subscribers=home_plans(app), gate=home_gate(app, CATALOG)).rate_files(files[1:])
    app.close()
    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["bills"] == 3
    assert next(b for b in issued["sample"] if b["msisdn"] == A)["charges"] == "45.00"
