"""The bill run reads each chunk's rated lines by a range of numbers from parts written in many small row groups
(``ROW_GROUP_ROWS``), skipping those of other numbers: the bills (every line, total, carried entry) are those of a
run given every rated line at once. On SQLite and PostgreSQL.

Before: a rated part was one row group, whatever its size."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.integration.test_billing_gap_chunk_reads_register import CATALOG, LINES, NOW, P, content, home, whole_run

from fairtel.bootstrap import bootstrap
from fairtel.cli import _billing
from fairtel.core.settings import load_settings
from fairtel.engines import _buckets
from fairtel.store import bills_of_period

__all__ = ["home"]  # the home of 13 lines, billed in chunks of 4
ROWS = 3


@pytest.fixture(autouse=True)
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rating (in this process: a small period) writes row groups of ``ROWS`` lines; set before the home is rated."""
    monkeypatch.setattr(_buckets, "ROW_GROUP_ROWS", ROWS, raising=False)


def test_chunks_read_from_small_row_groups_bill_as_a_whole_run(home: Path) -> None:
    app = bootstrap(load_settings(home=home))
    try:
        parts = app.lake.files("rated", periods=[P])
        meta = [pq.ParquetFile(p).metadata for p in parts]
        lines = sum(m.num_rows for m in meta)
        assert lines > 4 * ROWS
        assert sum(m.num_row_groups for m in meta) >= lines // ROWS
        assert all(m.row_group(g).num_rows <= ROWS for m in meta for g in range(m.num_row_groups))
        want = whole_run(app)
        out = _billing.bill_period(app, P, catalog=CATALOG, issue=True, now=NOW)
        with app.db.connect() as conn:
            issued = bills_of_period(conn, P)
        assert content(issued) == content(want.bills)
        assert out["bills"] == len(want.bills) == LINES
        assert sum(b.total_minor for b in issued) == sum(b.total_minor for b in want.bills) != 0
    finally:
        app.close()
