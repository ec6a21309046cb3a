"""Usage rated after its subscriber's bill was issued is on no bill: a rerun of the bill run skips issued bills,
so it says so (it said "nothing changed"), and the rerate it points to charges the record exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, P, as_json, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period

home = base.home  # the fixture: a home with three subscribers and their rated March usage


def test_a_rerun_of_the_bill_run_names_usage_rated_after_the_bills(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    quiet = as_json(home, "bill", "--period", P, "--issue")
    assert quiet["unbilled_late_records"] == 0 and quiet["unbilled_late_vas"] == 0

    app = open_app(home)  # a late call of A: HK, 2 minutes at 1.50
    app.lake.write("usage", P, pa.Table.from_pylist([rec("v9", A, duration_s=100, peer="85261234567")],
                                                    schema=CLEAN_USAGE_SCHEMA), part="t2")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()

    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["unbilled_late_records"] == 1
    assert any("rerate --period" in n for n in again["notes"])
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 1 and rr["net"] == "3.00"
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
