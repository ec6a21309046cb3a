"""The churn model on any labelled customer CSV: yes/no labels, blanks, categories, leaky columns, lift."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.insight import CHURN_PHRASES, train_churn_model
from fairtel.learn import ColumnKind, TrainOptions, infer_spec, read_table

runner = CliRunner()


def write_customers(path: Path, n: int = 500, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customerID", "tenure", "Contract", "MonthlyCharges", "TotalCharges", "ChurnReason", "Churn"])
        for i in range(n):
            tenure = int(rng.integers(0, 72))
            contract = rng.choice(["Month-to-month", "One year", "Two year"], p=[0.55, 0.25, 0.2])
            monthly = rng.uniform(18, 118)
            z = -0.3 - 0.05 * tenure + 0.015 * monthly + (1.5 if contract == "Month-to-month" else -0.5)
            churn = rng.random() < 1 / (1 + np.exp(-z))
            total = " " if tenure == 0 else f"{tenure * monthly:.2f}"  # blank like IBM's TotalCharges
            reason = rng.choice(["price", "competitor", "moved"]) if churn else ""  # known only after the fact
            w.writerow([f"{i:04d}-ABCDE", tenure, contract, f"{monthly:.2f}", total, reason, "Yes" if churn else "No"])
    return path


def test_cli_churn_round_trip_with_excluded_leaky_column(tmp_path: Path) -> None:
    data = write_customers(tmp_path / "customers.csv")
    leaky, clean = tmp_path / "leaky", tmp_path / "clean"
    common = ["--data", str(data), "--label", "Churn", "--id", "customerID", "--folds", "3", "--json"]
    r = runner.invoke(app, ["churn", "train", *common, "--model", str(leaky)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["out_of_fold"]["roc_auc"] > 0.99  # the reason column gives the answer away
    r = runner.invoke(app, ["churn", "train", *common, "--model", str(clean), "--exclude", "ChurnReason"])
    assert r.exit_code == 0, r.output
    trained = json.loads(r.stdout)
    assert trained["dropped"] == {"customerID": "id column", "ChurnReason": "excluded"}
    assert trained["positive_label"] == "Yes" and trained["features"] == 4
    assert 0.7 < trained["out_of_fold"]["roc_auc"] < 0.97
    later = write_customers(tmp_path / "later.csv", seed=4)  # the training table itself is refused
    r = runner.invoke(app, ["churn", "evaluate", "--data", str(later), "--label", "Churn", "--id", "customerID",
                            "--model", str(clean), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert {"roc_auc", "pr_auc", "top_decile_lift", "f1", "n"} <= m.keys()
    assert m["top_decile_lift"] > 1.5 and m["n"] == 500


def test_churn_reasons_use_churn_words_in_both_languages(tmp_path: Path) -> None:
    frame = read_table(write_customers(tmp_path / "customers.csv"))
    m = train_churn_model(frame, label="Churn", id_column="customerID", exclude=["ChurnReason"],
                          options=TrainOptions(folds=3, learning_rate=0.1, max_rounds=300, early_stopping=30))
    assert m.phrases["MonthlyCharges"] == CHURN_PHRASES["MonthlyCharges"]
    reasons = [r for s in m.score(frame) if s.flagged for r in s.reasons]
    contract = [r for r in reasons if r.feature == "Contract"]
    assert contract and contract[0].en == "contract: Month-to-month" and contract[0].zh == "合约类型：Month-to-month"
    tenure = [r for r in reasons if r.feature == "tenure"]
    # a short tenure in the strong words; one within the usual range beside the typical value, never "short"
    assert tenure and all((r.en.startswith("short tenure") and r.zh.startswith("在网时间短"))
                          or ("below the typical" in r.en and "低于一般水平" in r.zh) for r in tenure)
    assert any(r.en.startswith("short tenure") for r in tenure)


def test_ibm_telco_is_prepared_without_hand_work(shared_dir: Path) -> None:
    path = shared_dir / "data" / "churn" / "ibm_telco" / "Telco-Customer-Churn.csv"
    if not path.is_file():
        pytest.skip("IBM Telco data not present")
    frame = read_table(path)
    spec = infer_spec(frame, label="Churn", id_column="customerID")
    kinds = {c.name: c.kind for c in spec.columns}
    assert kinds["TotalCharges"] is ColumnKind.NUMERIC and kinds["Contract"] is ColumnKind.CATEGORICAL
    assert np.isnan(spec.matrix(frame)[:, spec.names.index("TotalCharges")]).sum() == 11
    assert spec.positive == "Yes" and spec.labels(frame).sum() == 1869
