"""Which distinct-integer columns are identifiers: a quantity (bytes, seconds) is distinct on every row too and stays
a feature; only names, running numbers and fixed-width codes are left out. And out-of-fold figures of a table with a
handful of rows of a class come with a warning, in the model and in `train --json` / `cv --json`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.learn import TrainOptions, cross_validate, infer_spec, train_model

runner = CliRunner()
FAST = TrainOptions(folds=3, learning_rate=0.1, max_rounds=100, early_stopping=10, search=False, bag=1)


def usage_table(n: int = 400, seed: int = 9) -> pl.DataFrame:
    """The layout of `fraud features --out`: msisdn, period, counts, and bytes written as decimals."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < 0.3
    data_bytes = np.where(fraud, rng.integers(10**6, 10**8, n), rng.integers(10**8, 5 * 10**9, n))
    return pl.DataFrame({
        "msisdn": [str(8613000000000 + int(v)) for v in rng.choice(10**9, n, replace=False)],
        "period": ["2026-09"] * n,
        "calls_out": [f"{v}.0" for v in rng.integers(0, 200, n)],
        "data_bytes": [f"{v}.0" for v in data_bytes],
        "fraud": [str(int(f)) for f in fraud],
    })


def test_a_distinct_quantity_stays_a_feature_of_fraud_features_output(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    usage_table().write_csv(path)
    r = runner.invoke(app, ["fraud", "train", "--data", str(path), "--label", "fraud", "--id", "msisdn",
                            "--model", str(tmp_path / "m"), "--folds", "3", "--no-linear", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert "data_bytes" not in doc["dropped"] and doc["features"] == 2  # calls_out and data_bytes
    assert doc["out_of_fold"]["roc_auc"] > 0.9  # data_bytes tells them apart


def test_identifiers_are_still_left_out() -> None:
    n = 200
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({
        "CustomerID": [str(v) for v in rng.choice(10**6, n, replace=False)],  # by name, in any order
        "account_no": [str(v) for v in rng.choice(10**6, n, replace=False)],
        "RowNumber": [str(i + 1) for i in range(n)],  # by name and running
        "seq": [str(1000 + i) for i in range(n)],  # running in file order
        "ticket": [str(v) for v in rng.permutation(np.arange(5000, 5000 + n))],  # a range with no gap, shuffled
        "caller": [str(8613000000000 + int(v)) for v in rng.choice(10**9, n, replace=False)],  # 13 digits
        "seconds": [str(v) for v in rng.choice(10**7, n, replace=False)],  # a quantity: distinct, kept
        "bytes_total": [f"{v}.0" for v in rng.choice(10**10, n, replace=False)],
        "y": [str(int(v)) for v in rng.random(n) < 0.4],
    })
    spec = infer_spec(frame, label="y")
    assert set(spec.names) == {"seconds", "bytes_total"}
    why = spec.dropped
    assert why["CustomerID"].startswith("id-like (its name") and why["account_no"].startswith("id-like (its name")
    assert why["RowNumber"].startswith("id-like") and "file order" in why["seq"]
    assert "filling a range" in why["ticket"] and "13-digit codes" in why["caller"]


def test_the_sichuan_columns_kept_do_not_change(shared_dir: Path) -> None:
    path = shared_dir / "data" / "fraud" / "sichuan" / "users_features_labelled.csv"
    if not path.is_file():
        pytest.skip("Sichuan data not present")
    from fairtel.learn import read_table

    frame = read_table(path)
    assert infer_spec(frame, label="label", id_column="phone_no_m").dropped == {"phone_no_m": "id column"}
    assert len(infer_spec(frame, label="label").columns) == 55


def few_positives(positives: int, n: int = 80) -> pl.DataFrame:
    rng = np.random.default_rng(2)
    y = np.zeros(n, dtype=int)
    y[:positives] = 1
    return pl.DataFrame({"a": [f"{v:.3f}" for v in rng.normal(size=n) + 3 * y], "b": [f"{v:.3f}" for v in rng.normal(size=n)],
                         "y": [str(v) for v in y]})


def test_out_of_fold_figures_on_two_positives_come_with_warnings(tmp_path: Path) -> None:
    m = train_model(few_positives(2), label="y", options=TrainOptions(folds=5, max_rounds=50, early_stopping=10, bag=1))
    assert len(m.warnings) == 2
    assert "2 folds instead of 5" in m.warnings[0] and "at least 10 rows of each class" in m.warnings[1]
    path = tmp_path / "few.csv"
    few_positives(2).write_csv(path)
    r = runner.invoke(app, ["churn", "train", "--data", str(path), "--label", "y", "--model", str(tmp_path / "m"), "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["warnings"]) == 2 and "warning: only 2 rows of class '1'" in r.stderr
    few_positives(4).write_csv(path)
    r = runner.invoke(app, ["churn", "cv", "--data", str(path), "--label", "y", "--folds", "5", "--repeats", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert any("some test folds have none" in w for w in json.loads(r.stdout)["warnings"])


def test_enough_rows_of_each_class_give_no_warning() -> None:
    frame = few_positives(20)
    assert train_model(frame, label="y", options=FAST).warnings == []
    assert cross_validate(frame, label="y", folds=3, repeats=1, options=FAST).warnings == ()
