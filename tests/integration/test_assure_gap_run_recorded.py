"""`fairtel assure` records that it ran (when, how many findings) even when it finds nothing, so the console's
dashboard says "0 findings (last run …)" instead of "charge assurance has not run yet" after a clean run."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_gap_merchant_suspension import _json, _open, home  # noqa: F401  (the fixture)

from fairtel.api._insight import ASSURE_RUNS, last_assure_run


def test_a_clean_run_is_recorded(home: Path) -> None:  # noqa: F811
    app = _open(home)
    assert last_assure_run(app.lake) is None
    app.close()
    out = _json(home, "assure")
    app = _open(home)
    found = last_assure_run(app.lake)
    assert found is not None and found[1] == len(out["findings"])
    files = [f for p in app.lake.periods(ASSURE_RUNS) for f in app.lake.files(ASSURE_RUNS, periods=[p])]
    assert len(files) == 1 and pq.read_table(files[0]).num_rows == 1
    _json(home, "assure")  # a second run replaces the month's record: still one row
    assert sum(pq.read_table(f).num_rows for p in app.lake.periods(ASSURE_RUNS) for f in app.lake.files(ASSURE_RUNS, periods=[p])) == 1
    app.close()
