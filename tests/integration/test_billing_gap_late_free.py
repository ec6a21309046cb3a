"""Late usage that costs nothing is not "unbilled" once a rerate priced it: after the bills, two domestic calls
inside the allowance and one international call arrive; the rerate charges the international call and has nothing
to charge for the others, yet every rerun of the bill run said `unbilled_late_records: 2` and "fairtel rerate
--period P charges them", forever."""

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


def _late(home: Path, part: str, *records: dict) -> None:  # type: ignore[type-arg]
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist(list(records), schema=CLEAN_USAGE_SCHEMA), part=part)
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()


def test_late_usage_a_rerate_priced_at_nothing_is_not_reported_as_unbilled(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    # A (basic-39, 300 domestic minutes included, 11 used): two domestic calls inside the allowance, one call to HK
    _late(home, "t2", rec("d1", A, duration_s=60), rec("d2", A, duration_s=90), rec("x1", A, duration_s=100, peer="85261234567"))
    before = as_json(home, "bill", "--period", P, "--issue")
    assert before["unbilled_late_records"] == 3  # not priced by a rerate yet: the rerate may find them dearer

    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 1 and rr["net"] == "3.00" and rr["sample"][0]["record_id"] == "x1"

    after = as_json(home, "bill", "--period", P, "--issue")
    assert after["unbilled_late_records"] == 0, after
    assert not any("rerate --period" in n for n in after["notes"]), after["notes"]
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0  # and nothing more to charge

    # a record arriving after that rerate is on no bill until the next rerate prices it
    _late(home, "t3", rec("d3", A, duration_s=30))
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["unbilled_late_records"] == 1 and any("rerate --period" in n for n in again["notes"])
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
    assert as_json(home, "bill", "--period", P, "--issue")["unbilled_late_records"] == 0
