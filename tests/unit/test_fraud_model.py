"""The fraud model on a labelled per-user CSV: CLI round trip, fraud words in reasons, the Sichuan table's shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.fraud import FRAUD_PHRASES, train_fraud_model
from fairtel.learn import TrainOptions, infer_spec, read_table

runner = CliRunner()


def write_users(path: Path, n: int = 400, seed: int = 11) -> Path:
    """Scam callers dial many distinct numbers with short calls; normal users call back and forth."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < 0.3
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["phone_no_m", "opposite_count", "opposite_unique", "call_dur_mean", "imeis", "sms_count", "label"])
        for i in range(n):
            count = int(rng.integers(20, 400))
            unique = int(count * (rng.uniform(0.6, 1.0) if fraud[i] else rng.uniform(0.05, 0.5)))
            dur = rng.uniform(5, 60) if fraud[i] else rng.uniform(30, 300)
            sms = "" if rng.random() < 0.1 else str(int(rng.integers(0, 5 if fraud[i] else 80)))
            w.writerow([f"u{i:04x}", count, unique, f"{dur:.1f}", int(rng.integers(1, 4 if fraud[i] else 2) + 0), sms,
                        int(fraud[i])])
    return path


def test_cli_train_then_evaluate_round_trip(tmp_path: Path) -> None:
    data = write_users(tmp_path / "users.csv")
    model = tmp_path / "fraud-model"
    r = runner.invoke(app, ["fraud", "train", "--data", str(data), "--label", "label", "--id", "phone_no_m",
                            "--model", str(model), "--folds", "3", "--json"])
    assert r.exit_code == 0, r.output
    trained = json.loads(r.stdout)
    assert trained["task"] == "fraud" and trained["dropped"] == {"phone_no_m": "id column"}
    assert (model / "booster.txt").is_file() and (model / "model.json").is_file()
    scores = tmp_path / "scores.csv"
    held_out = write_users(tmp_path / "later.csv", seed=12)  # the training table itself is refused
    r = runner.invoke(app, ["fraud", "evaluate", "--data", str(held_out), "--label", "label", "--id", "phone_no_m",
                            "--model", str(model), "--json", "--scores", str(scores)])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert {"roc_auc", "pr_auc", "f1", "precision", "recall", "threshold", "n"} <= m.keys()
    assert m["n"] == 400 and m["roc_auc"] > 0.9 and m["threshold"] == trained["threshold"]
    assert m["evaluated_on_training_data"] is False and m["warnings"] == []
    rows = list(csv.DictReader(scores.open(encoding="utf-8")))
    assert len(rows) == 400 and rows[0]["phone_no_m"] == "u0000"
    flagged = [r for r in rows if r["flagged"] == "1"]
    assert flagged and all(r["reasons_en"] and r["reasons_zh"] for r in flagged)
    assert any("distinct callees" in r["reasons_en"] and "被叫号码" in r["reasons_zh"] for r in flagged)


def test_cli_cross_validation_reports_mean_and_sd(tmp_path: Path) -> None:
    data = write_users(tmp_path / "users.csv", n=200)
    r = runner.invoke(app, ["fraud", "cv", "--data", str(data), "--label", "label", "--id", "phone_no_m",
                            "--folds", "2", "--repeats", "1", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["runs"]) == 2 and doc["roc_auc"]["mean"] > 0.85 and doc["roc_auc"]["sd"] >= 0
    r = runner.invoke(app, ["fraud", "evaluate", "--data", str(data), "--label", "label", "--cv", "2", "--repeats", "1",
                            "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["runs"]) == 2


def test_cli_reports_bad_input_with_a_code(tmp_path: Path) -> None:
    data = write_users(tmp_path / "users.csv", n=60)
    r = runner.invoke(app, ["fraud", "train", "--data", str(data), "--label", "is_fraud", "--model", str(tmp_path / "m"),
                            "--json"])
    assert r.exit_code == 2
    assert json.loads(r.stdout)["error"]["code"] == "input_invalid"
    r = runner.invoke(app, ["fraud", "evaluate", "--data", str(data), "--model", str(tmp_path / "none"), "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "not_found"


def test_fraud_phrases_reach_the_model(tmp_path: Path) -> None:
    frame = read_table(write_users(tmp_path / "users.csv", n=300))
    m = train_fraud_model(frame, label="label", id_column="phone_no_m",
                          options=TrainOptions(folds=3, learning_rate=0.1, max_rounds=200, early_stopping=20))
    assert m.task == "fraud" and set(m.phrases) == {"opposite_count", "opposite_unique", "call_dur_mean", "imeis", "sms_count"}
    assert m.phrases["opposite_unique"] == FRAUD_PHRASES["opposite_unique"]


def test_sichuan_table_is_prepared_without_hand_work(shared_dir: Path) -> None:
    path = shared_dir / "data" / "fraud" / "sichuan" / "users_features_labelled.csv"
    if not path.is_file():
        pytest.skip("Sichuan data not present")
    frame = read_table(path)
    spec = infer_spec(frame, label="label", id_column="phone_no_m")
    assert spec.positive == "1" and len(spec.columns) == 55 and spec.categorical_indices == []
    y = spec.labels(frame)
    assert len(y) == frame.height and 0.25 < y.mean() < 0.4
