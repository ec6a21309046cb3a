"""`fraud evaluate` (and `churn evaluate`, the same code) on the model's own training table, and the columns it is
given: in-sample figures are refused unless asked for and then marked; a column that does not exist, or the id
naming the label, is an error naming the column given and listing the file's columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()
COLUMNS = ["phone_no_m", "opposite_count", "opposite_unique", "call_dur_mean", "city_name_call", "label"]


def write_users(path: Path, n: int = 300, seed: int = 3, order: list[int] | None = None) -> Path:
    """Scam callers dial many distinct numbers with short calls; ``order``: the rows written, by index."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < 0.3
    rows = []
    for i in range(n):
        count = int(rng.integers(20, 400))
        unique = int(count * (rng.uniform(0.5, 1.0) if fraud[i] else rng.uniform(0.05, 0.6)))
        dur = rng.uniform(5, 90) if fraud[i] else rng.uniform(30, 300)
        rows.append([f"u{i:04x}", count, unique, f"{dur:.1f}", f"{rng.integers(1, 9)}.0", int(fraud[i])])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows[i] for i in (order if order is not None else range(n)))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    d = tmp_path_factory.mktemp("fraud")
    data = write_users(d / "users.csv")
    model = d / "model"
    r = runner.invoke(app, ["fraud", "train", "--data", str(data), "--label", "label", "--id", "phone_no_m",
                            "--model", str(model), "--folds", "3", "--json"])
    assert r.exit_code == 0, r.output
    return data, model, json.loads(r.stdout)


def evaluate(data: Path, model: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    r = runner.invoke(app, ["fraud", "evaluate", "--data", str(data), "--model", str(model), "--json", *extra])
    return r.exit_code, json.loads(r.stdout), r.stderr


def problems(doc: dict[str, object]) -> list[str]:
    error = doc["error"]
    assert isinstance(error, dict)
    return list(error["details"]["problems"])


def test_the_training_table_is_refused_with_the_honest_figures(trained: tuple[Path, Path, dict[str, object]]) -> None:
    data, model, fit = trained
    code, doc, _ = evaluate(data, model, "--id", "phone_no_m")
    assert code == 2 and doc["error"]["code"] == "input_invalid"  # type: ignore[index]
    (said,) = problems(doc)
    oof = fit["out_of_fold"]
    assert isinstance(oof, dict)
    assert "[--data]" in said and "the same table as the model's training table (300 labelled rows)" in said
    assert f"roc_auc {oof['roc_auc']:.3f}" in said and "--allow-training-data" in said


def test_allowed_in_sample_figures_are_marked_in_json_and_on_stderr(trained: tuple[Path, Path, dict[str, object]]) -> None:
    data, model, _ = trained
    code, doc, err = evaluate(data, model, "--allow-training-data")
    assert code == 0
    assert doc["evaluated_on_training_data"] is True and doc["n"] == 300
    warnings = doc["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 1 and "overstate its quality" in warnings[0]
    assert "warning: evaluated on training data" in err


def test_the_training_rows_in_another_order_and_layout_are_recognised(
    trained: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    """Sorted otherwise, with the numbers written as decimals and a column added: the same rows to the model."""
    _, model, _ = trained
    shuffled = write_users(tmp_path / "shuffled.csv", order=list(np.random.default_rng(0).permutation(300)))
    text = shuffled.read_text(encoding="utf-8").splitlines()
    widened = [f"{text[0]},note"] + [f"{line},x" for line in text[1:]]
    (tmp_path / "wide.csv").write_text("\n".join(widened) + "\n", encoding="utf-8")
    for f in (shuffled, tmp_path / "wide.csv"):
        code, doc, _ = evaluate(f, model)
        assert code == 2 and "the same 300 rows as the model's training table" in problems(doc)[0]
    code, doc, _ = evaluate(write_users(tmp_path / "new.csv", seed=4), model)
    assert code == 0 and doc["evaluated_on_training_data"] is False and doc["warnings"] == []


def test_a_missing_id_column_is_an_error_listing_the_columns(
    trained: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    _, model, _ = trained
    new = write_users(tmp_path / "new.csv", seed=5)
    scores = tmp_path / "s.csv"
    code, doc, _ = evaluate(new, model, "--id", "phone", "--scores", str(scores))
    assert code == 2 and not scores.exists()
    (said,) = problems(doc)
    assert "[phone]: id column not found; columns: phone_no_m, opposite_count" in said


def test_scores_are_headed_by_the_column_their_values_come_from(
    trained: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    _, model, _ = trained
    new = write_users(tmp_path / "new.csv", seed=5)
    scores = tmp_path / "s.csv"
    assert evaluate(new, model, "--id", "PHONE_NO_M", "--scores", str(scores))[0] == 0  # found as `train` finds it
    rows = list(csv.DictReader(scores.open(encoding="utf-8")))
    assert rows[0]["phone_no_m"] == "u0000"
    no_ids = tmp_path / "no_ids.csv"
    lines = new.read_text(encoding="utf-8").splitlines()
    no_ids.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n", encoding="utf-8")
    assert evaluate(no_ids, model, "--scores", str(scores))[0] == 0
    rows = list(csv.DictReader(scores.open(encoding="utf-8")))
    assert "phone_no_m" not in rows[0] and [r["row"] for r in rows[:2]] == ["0", "1"]


def test_label_problems_name_the_column_given(trained: tuple[Path, Path, dict[str, object]], tmp_path: Path) -> None:
    _, model, _ = trained
    new = write_users(tmp_path / "new.csv", seed=5)
    code, doc, _ = evaluate(new, model, "--label", "city_name_call")
    assert code == 2
    said = problems(doc)
    assert said and all("[city_name_call]" in p and "[label]" not in p for p in said)
    code, doc, _ = evaluate(new, model, "--label", "fraud")
    assert code == 2 and "[fraud]: label column not found; columns: phone_no_m" in problems(doc)[0]
    code, doc, _ = evaluate(new, model, "--id", "label")
    assert code == 2 and "the id column is the label column 'label'" in problems(doc)[0]


def test_train_refuses_the_label_as_id(tmp_path: Path) -> None:
    data = write_users(tmp_path / "users.csv", n=120)
    r = runner.invoke(app, ["fraud", "train", "--data", str(data), "--label", "label", "--id", "label",
                            "--model", str(tmp_path / "m"), "--json"])
    assert r.exit_code == 2 and not (tmp_path / "m").exists()
    assert "[label]: the id column is the label column 'label'" in problems(json.loads(r.stdout))[0]
