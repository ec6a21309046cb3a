"""The usage lake: atomic Parquet parts by period, scans, and DuckDB over the datasets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.store import Lake, LakeError


def usage(n: int, *, start: int = 0, msisdn: str = "8613800138000", month: int = 1) -> pa.Table:
    rows = {f.name: [None] * n for f in CLEAN_USAGE_SCHEMA}
    rows.update(
        record_id=[f"r{start + i}" for i in range(n)],
        source=["sw1"] * n,
        msisdn=[msisdn] * n,
        kind=["voice"] * n,
        started_at=[datetime(2026, month, 2, 3, 4, i % 60, tzinfo=UTC) for i in range(n)],
        duration_s=[60 + i for i in range(n)],
        parts=[1] * n,
        incomplete=[False] * n,
    )
    return pa.Table.from_pydict(rows, schema=CLEAN_USAGE_SCHEMA)


def test_write_scan_round_trip_by_period(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.periods("usage") == [] and lake.scan("usage").num_rows == 0
    path = lake.write("usage", "2026-01", usage(3), part="batch-1")
    lake.write("usage", Period(2026, 2), usage(2, start=10, month=2), part="batch-1")
    lake.write("usage", "2026-01", usage(4, start=20), part="batch-2")

    assert path == tmp_path / "lake" / "usage" / "period=2026-01" / "batch-1.parquet"
    assert lake.periods("usage") == ["2026-01", "2026-02"]
    assert lake.parts("usage", "2026-01") == ["batch-1", "batch-2"]
    everything = lake.scan("usage")
    assert everything.num_rows == 9
    assert everything.schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    january = lake.scan("usage", periods=["2026-01"], columns=["record_id", "period"])
    assert january.column_names == ["record_id", "period"]
    assert sorted(january.column("record_id").to_pylist()) == ["r0", "r1", "r2", "r20", "r21", "r22", "r23"]
    assert set(january.column("period").to_pylist()) == {"2026-01"}


def test_same_part_name_replaces_the_part(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("usage", "2026-01", usage(5), part="file-a")
    lake.write("usage", "2026-01", usage(2, start=100), part="file-a")
    assert lake.scan("usage").column("record_id").to_pylist() == ["r100", "r101"]


def test_failed_write_leaves_the_old_part_and_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake(tmp_path)
    lake.write("usage", "2026-01", usage(3), part="p")

    def crash(table: pa.Table, where: object, **kwargs: object) -> None:
        where.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        lake.write("usage", "2026-01", usage(7), part="p")
    monkeypatch.undo()

    directory = tmp_path / "usage" / "period=2026-01"
    assert sorted(p.name for p in directory.iterdir()) == ["p.parquet"]
    assert lake.scan("usage").num_rows == 3
    assert lake.sql("SELECT count(*) AS n FROM usage").column("n").to_pylist() == [3]


def test_duckdb_views_query_every_dataset_with_the_period_column(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("usage", "2026-01", usage(3), part="a")
    lake.write("usage", "2026-02", usage(2, start=5, msisdn="8613800138001", month=2), part="a")
    lake.write("findings", "2026-02", pa.table({"finding_id": ["f1"], "amount_minor": [600]}), part="assure")
    lake.write("findings", "2026-02", pa.table({"finding_id": ["f2"], "amount_minor": [300], "kind": ["x"]}), part="more")

    by_period = lake.sql("SELECT period, count(*) AS n, sum(duration_s) AS s FROM usage GROUP BY period ORDER BY period")
    assert by_period.to_pylist() == [
        {"period": "2026-01", "n": 3, "s": 60 + 61 + 62},
        {"period": "2026-02", "n": 2, "s": 60 + 61},
    ]
    assert lake.sql("SELECT count(*) AS n FROM usage WHERE msisdn = $1", ["8613800138001"]).to_pylist() == [{"n": 2}]
    findings = lake.sql("SELECT finding_id, kind FROM findings ORDER BY finding_id").to_pylist()
    assert findings == [{"finding_id": "f1", "kind": None}, {"finding_id": "f2", "kind": "x"}]
    assert lake.datasets() == ["findings", "usage"]


def test_sql_views_skip_a_rating_runs_staging_directories(tmp_path: Path) -> None:
    """A batch run stages a period's new lines in a hidden directory beside it (and a killed one may leave it):
    queries over the dataset see the committed parts only, and do not fail on the staging's layout."""
    import shutil

    lake = Lake(tmp_path)
    lake.write("usage", "2026-01", usage(3), part="a")
    staging = tmp_path / "usage" / ".period=2026-01.abc.staging"
    staging.mkdir()
    shutil.copy(tmp_path / "usage" / "period=2026-01" / "a.parquet", staging / "part-00000.parquet")
    assert lake.sql("SELECT period, count(*) AS n FROM usage GROUP BY period").to_pylist() == [{"period": "2026-01", "n": 3}]


def test_delete_part(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("usage", "2026-01", usage(1), part="a")
    lake.write("usage", "2026-02", usage(1, month=2), part="a")
    assert lake.delete_part("usage", "2026-01", "a") is True
    assert lake.delete_part("usage", "2026-01", "a") is False
    assert lake.periods("usage") == ["2026-02"]
    assert not (tmp_path / "usage" / "period=2026-01").exists()


def test_bad_names_periods_and_shapes_are_refused(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(LakeError):
        lake.write("usage", "2026-13", usage(1), part="a")
    with pytest.raises(LakeError):
        lake.write("usage", "2026-01", usage(1), part="../escape")
    with pytest.raises(LakeError):
        lake.write("Usage; drop", "2026-01", usage(1), part="a")
    with pytest.raises(LakeError, match="columns missing"):
        lake.write("usage", "2026-01", pa.table({"record_id": ["r1"]}), part="a")
    with pytest.raises(LakeError, match="2026-02"):
        lake.write("bills", "2026-01", pa.table({"bill_id": ["b"], "period": ["2026-02"]}), part="a")
    assert lake.datasets() == []


def test_scan_fills_columns_a_part_lacks_and_refuses_unknown_ones(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("rated", "2026-01", pa.table({"record_id": ["a"], "amount_minor": [100]}), part="v1")
    lake.write("rated", "2026-01", pa.table({"record_id": ["b"], "amount_minor": [250], "rule_id": ["r7"]}), part="v2")
    t = lake.scan("rated", columns=["record_id", "rule_id"])
    assert t.to_pylist() == [{"record_id": "a", "rule_id": None}, {"record_id": "b", "rule_id": "r7"}]
    with pytest.raises(LakeError, match="no column"):
        lake.scan("rated", columns=["record_id", "nope"])
