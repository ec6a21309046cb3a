"""An operator directory's ``subscribers.csv`` with a ``customer_since`` column (过户: since when the row's customer
holds a line that moved to them with its activation kept, as the register import reads it) is read by insight as the
line's ``holder_since``: the churn warning counts the line's use from the owner change, not the previous
customer's. A ``customer_since`` before the activation or in the future is refused, naming the file, line and field.

Before: the directory reader mapped no ``customer_since``; the line was scored on the earlier customer's use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import InvalidInputError
from fairtel.insight import activity, read_operator_dir
from fairtel.insight._sources import read_subscribers_csv

CN = timezone(timedelta(hours=8))
MOVED, KEPT = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"


def _call(rid: str, msisdn: str, day: int) -> dict[str, object]:
    row: dict[str, object] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": 60,
                  "peer": "8613912345678", "parts": 1, "incomplete": False}


def _operator(tmp_path: Path, since: str) -> Path:
    d = tmp_path / "op"
    (d / "usage").mkdir(parents=True)
    (d / "subscribers.csv").write_text(
        HEADER + f"{MOVED},cu-2,payg,2025-01-01T00:00:00+08:00,active,zh,bj,{since}\n"
        f"{KEPT},cu-3,payg,2025-01-01T00:00:00+08:00,active,zh,bj,\n", encoding="utf-8")
    rows = [_call(f"{m}-{day}", m, day) for m in (MOVED, KEPT) for day in range(1, 21)]
    pq.write_table(pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), d / "usage" / "part.parquet")
    return d


def test_a_directory_line_that_changed_owner_counts_from_the_change(tmp_path: Path) -> None:
    parts = read_operator_dir(_operator(tmp_path, "2026-03-11T00:00:00+08:00"))
    subs = parts["subscribers"]
    assert isinstance(subs, pl.DataFrame)
    assert subs.schema["holder_since"] == pl.Datetime("us", "UTC") and "customer_since" not in subs.columns
    assert subs.filter(pl.col("msisdn") == MOVED)["holder_since"].item() == datetime(2026, 3, 10, 16, tzinfo=UTC)
    assert subs.filter(pl.col("msisdn") == KEPT)["holder_since"].item() is None
    usage = parts["usage"]
    assert usage is not None
    daily = activity(usage, "Asia/Shanghai", subs).daily
    calls = dict(daily.group_by("msisdn").agg(pl.col("voice_out").sum()).iter_rows())
    # the new customer's ten days (11 to 20 March), not the previous customer's first ten
    assert calls == {MOVED: 10, KEPT: 20}


@pytest.mark.parametrize(("since", "why"), [("2024-12-31T00:00:00+08:00", "before the line was activated"),
                                            ("2999-01-01T00:00:00+08:00", "in the future"),
                                            ("2026-03-11", "offset")])
def test_a_bad_customer_since_is_named_by_file_line_and_field(tmp_path: Path, since: str, why: str) -> None:
    path = _operator(tmp_path, since) / "subscribers.csv"
    with pytest.raises(InvalidInputError) as info:
        read_subscribers_csv(path)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "customer_since")
    assert why in problem.message


def test_both_names_of_the_holding_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("msisdn,activated_at,customer_since,holder_since\n"
                    f"{MOVED},2025-01-01T00:00:00+08:00,2026-03-11T00:00:00+08:00,\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        read_subscribers_csv(path)
    assert [(p.line, p.field) for p in info.value.problems] == [(1, "holder_since")]
