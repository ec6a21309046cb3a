"""Rerating a period rated online (Hypothesis): for any split of the period's records into files, arriving in any
order and committed in any groups, a bill issued from the online lines and rerated with the same tariff issues
nothing; with a changed rate, the corrections add up to the period priced under the new tariff in that same
arrival order, less what was billed."""

from __future__ import annotations

import hashlib
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_billing_gap_online_order import CN, P, X, Y, call, catalog_text, open_home, parsed

from fairtel.cli._billing import bill_period, rerate_period
from fairtel.cli._home import home_gate, home_plans, home_subscribers
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.engines import ArrivedFile, OnlineRater
from fairtel.rating import rate


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[list[dict[str, Any]]], list[int]]:
    """Records of two subscribers cut into files (in arrival order), and how many files each commit took."""
    n = draw(st.integers(2, 10))
    records = []
    for i in range(n):
        at = datetime(2026, 3, 1, tzinfo=CN) + timedelta(hours=draw(st.integers(0, 30 * 24 - 1)))
        records.append(call(f"r{i}", draw(st.sampled_from([X, Y])), at.day, at.hour, draw(st.integers(1, 9))))
    files = draw(st.integers(1, n))
    where = draw(st.lists(st.integers(0, files - 1), min_size=n, max_size=n))
    cut = [[r for r, k in zip(records, where, strict=True) if k == f] for f in range(files)]
    cut = draw(st.permutations([f for f in cut if f]))
    commits: list[int] = []
    left = len(cut)
    while left:
        commits.append(draw(st.integers(1, left)))
        left -= commits[-1]
    return cut, commits


def _amount(rated: pl.DataFrame) -> int:
    return int(rated.filter(pl.col("kind").is_in(["voice", "sms", "data"]))["amount_minor"].sum() or 0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_online_bills_rerate_to_nothing_and_a_changed_rate_by_the_tariff_alone(case: Any) -> None:
    files, commits = case
    with tempfile.TemporaryDirectory() as tmp:
        app = open_home(Path(tmp))
        try:
            catalog = parsed(catalog_text())
            rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app), gate=home_gate(app, catalog))
            arrived = []
            for records in files:
                digest = hashlib.sha256(repr(sorted(r["record_id"] for r in records)).encode()).hexdigest()
                app.lake.write("usage", P, pa.Table.from_pylist(records, schema=CLEAN_USAGE_SCHEMA), part=digest[:24])
                arrived.append(ArrivedFile(digest, [app.lake.part_path("usage", P, digest[:24])], datetime.now(UTC)))
            at = 0
            for size in commits:
                rater.rate_files(arrived[at:at + size])
                at += size
            bill_period(app, P, catalog=catalog, issue=True)
            same = rerate_period(app, P, catalog=catalog)
            assert same["adjustments_issued"] == 0, same["sample"]

            changed = parsed(catalog_text(peak="0.31"))
            out = rerate_period(app, P, catalog=changed)
            # the period under the new tariff, each subscriber's records in the order their files arrived
            usage = pl.from_arrow(pa.Table.from_pylist([r | {"_f": k} for k, f in enumerate(files) for r in f],
                                                       schema=CLEAN_USAGE_SCHEMA.append(pa.field("_f", pa.int64()))))
            assert isinstance(usage, pl.DataFrame)
            new = rate(usage, changed, home_subscribers(app, period=Period.parse(P)), period=P, arrival="_f").rated
            billed = pl.read_parquet(app.lake.files("billed", periods=[P]))
            assert int(Decimal(out["net"]) * 100) == _amount(new) - _amount(billed)
            assert out["fees_changed"] == 0 and out["records_changed"] == out["adjustments_issued"]
        finally:
            app.close()
