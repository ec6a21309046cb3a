"""`churn warn` on usage with a month missing (loaded September, then late November): the labels of a window in the
gap are all "churned", and the error says so in words (the days and month missing, the cuts, the days needed) rather
than "label must have exactly two classes, found 1"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli._insight import register

runner = CliRunner()
TZ_OFFSET = timedelta(hours=8)  # the default catalog's clock (Asia/Shanghai)


def operator_dir(root: Path, days: list[int]) -> Path:
    """40 lines using their phones on each of ``days`` (counted from 2026-09-01, local time)."""
    base = datetime(2026, 9, 1, tzinfo=UTC) - TZ_OFFSET
    lines = [f"86138{i:08d}" for i in range(40)]
    rows = [(f"r{d}-{i}-{k}", lines[i], base + timedelta(days=d, hours=9 + k)) for d in days for i in range(40) for k in range(3)]
    usage = pl.DataFrame({"record_id": [r[0] for r in rows], "source": ["t"] * len(rows), "msisdn": [r[1] for r in rows],
                          "kind": ["sms"] * len(rows), "direction": ["out"] * len(rows), "started_at": [r[2] for r in rows],
                          "peer": ["8613900000001"] * len(rows)}, schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    d = root / "op"
    (d / "usage").mkdir(parents=True)
    usage.write_parquet(d / "usage" / "part.parquet")
    pl.DataFrame({"msisdn": lines, "plan_id": ["basic-39"] * 40, "activated_at": ["2025-01-01T00:00:00+00:00"] * 40}
                 ).write_csv(d / "subscribers.csv")
    (d / "catalog.toml").write_bytes(default_catalog_path().read_bytes())
    return d


def test_a_month_without_usage_is_named_with_what_the_warning_needs(tmp_path: Path) -> None:
    september, late_november = list(range(30)), list(range(61, 88))  # 2026-11-01 .. 2026-11-27
    d = operator_dir(tmp_path, september + late_november)
    app = typer.Typer()
    register(app)
    res = runner.invoke(app, ["churn", "warn", "--dir", str(d), "--home", str(tmp_path / "home"), "--json"])
    assert res.exit_code == 2, res.output
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "churn_data_too_short"
    (said,) = error["details"]["problems"]
    assert "usage [started_at]: usage has days without a single record: 2026-10-01 to 2026-10-31 (31 days)" in said
    assert "no usage at all in 2026-10" in said
    assert "cut 2026-10-03: observed weeks 2026-09-05 to 2026-10-02 and label window 2026-10-17 to 2026-10-30" in said
    assert "at least 84 days (28 observed + 2 × (14 lead + 14 label))" in said and "there are 27 days" in said
    assert "exactly two classes" in said  # what training said, kept as the detail
