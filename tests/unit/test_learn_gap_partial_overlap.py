"""An evaluation table that shares only some rows with the model's training table: recognised by id and values (when
training named an id column and the table has it) or else by identical feature rows and class, counted, refused
from ``OVERLAP_LIMIT`` of the rows and reported with a warning below it; the same customers with other values (a
later snapshot: an out-of-time evaluation) are counted apart and not refused. Before, only the whole training
table was recognised: half of it mixed with new rows was scored without a word, its figures read as quality."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from test_fraud_model_gap_evaluate import evaluate, problems, write_users

from fairtel.learn import OVERLAP_LIMIT, ModelError, TabularModel, TrainOptions, load_model, read_table, train_model

FAST = TrainOptions(folds=3, max_rounds=200, early_stopping=20, bag=1, search=False)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The training table, a table of new customers (other ids, other values) and the saved model (with --id)."""
    d = tmp_path_factory.mktemp("overlap")
    train = write_users(d / "users.csv")
    new = d / "new.csv"
    lines = write_users(d / "raw_new.csv", seed=4).read_text(encoding="utf-8").splitlines()
    new.write_text("\n".join([lines[0]] + [line.replace(",", "n,", 1) for line in lines[1:]]) + "\n", encoding="utf-8")
    model = train_model(read_table(train), label="label", id_column="phone_no_m", options=FAST, source=str(train))
    return train, new, model.save(d / "model")


def mixed(path: Path, train: Path, new: Path, k: int, *, drop_ids: bool = False) -> Path:
    """``k`` training rows (every 7th, so not a block) among new rows: 300 labelled rows in all."""
    old, fresh = read_table(train), read_table(new)
    picked = old[[(7 * i) % old.height for i in range(k)]]
    frame = pl.concat([fresh.head(300 - k), picked]).sample(fraction=1.0, shuffle=True, seed=1)
    if drop_ids:
        frame = frame.drop("phone_no_m")
    frame.write_csv(path)
    return path


def test_some_training_rows_are_counted_by_id(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, saved = tables
    m = load_model(saved)
    assert m.training_rows is not None and m.training_rows.id_column == "phone_no_m"
    for k in (30, 150):
        frame = read_table(mixed(tmp_path / f"mix{k}.csv", train, new, k))
        ov = m.evaluation_overlap(frame, source="mix")
        assert (ov.rows, ov.overlapping, ov.matched_by, ov.refused) == (300, k, "id column 'phone_no_m' and values", True)
        said = m.training_overlap(frame, source="mix")
        assert said is not None and said.startswith(f"{k} of the 300 labelled rows ({k / 3:.1f}%, at or above the 5% limit)")
        assert ov.to_dict() == {"rows": 300, "training_rows": k, "share": k / 300,
                                "matched_by": "id column 'phone_no_m' and values", "limit": OVERLAP_LIMIT, "refused": True,
                                "training_ids_with_other_values": 0, "note": None}


def test_a_few_training_rows_are_reported_not_refused(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, saved = tables
    m = load_model(saved)
    frame = read_table(mixed(tmp_path / "mix6.csv", train, new, 6))
    ov = m.evaluation_overlap(frame, source="mix")
    assert (ov.overlapping, ov.share, ov.refused) == (6, 0.02, False)
    assert m.training_overlap(frame, source="mix") is None
    assert ov.warning is not None and ov.warning.startswith("6 of the 300 labelled rows (2.0%) are rows the model was "
                                                            "trained on (matched by id column 'phone_no_m' and values)")
    assert "in-sample" in ov.warning
    clean = m.evaluation_overlap(read_table(new), source="new")
    assert (clean.overlapping, clean.refused, clean.warning, clean.message) == (0, False, None, None)


def test_the_same_customers_later_are_no_training_rows(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Out-of-time evaluation: the training customers (same ids) with what they did since (other values)."""
    train, _, saved = tables
    m = load_model(saved)
    later = write_users(tmp_path / "later.csv", seed=4)  # ids u0000… as in training, other values
    ov = m.evaluation_overlap(read_table(later), source="later")
    assert (ov.overlapping, ov.same_ids, ov.refused, ov.warning) == (0, 300, False, None)
    lines = later.read_text(encoding="utf-8").splitlines()
    again = train.read_text(encoding="utf-8").splitlines()
    (tmp_path / "some.csv").write_text("\n".join(lines[:-9] + again[-9:]) + "\n", encoding="utf-8")  # 9 rows as trained
    ov = m.evaluation_overlap(read_table(tmp_path / "some.csv"), source="some")
    assert (ov.overlapping, ov.same_ids, ov.refused) == (9, 291, False)
    assert ov.to_dict()["training_ids_with_other_values"] == 291


def test_without_the_id_column_rows_are_matched_by_their_values(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The ids left out of the export, and numbers written otherwise (``120`` as ``120.0``): the same rows."""
    train, new, saved = tables
    m = load_model(saved)
    path = mixed(tmp_path / "noid.csv", train, new, 12, drop_ids=True)
    frame = read_table(path).with_columns(pl.col("opposite_count") + ".0")
    ov = m.evaluation_overlap(frame, source="noid")
    assert (ov.overlapping, ov.matched_by, ov.refused) == (12, "identical feature rows and class", False)
    assert ov.note is not None and "'phone_no_m' is not in this table" in ov.note
    # the same values with the other class are not the row the model learned
    flipped = frame.with_columns(pl.when(pl.col("label") == "1").then(pl.lit("0")).otherwise(pl.lit("1")).alias("label"))
    assert m.evaluation_overlap(flipped, source="flipped").overlapping == 0


def test_a_model_trained_without_ids_matches_by_values(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, _ = tables
    no_ids = read_table(train).drop("phone_no_m")
    m = train_model(no_ids, label="label", options=FAST)
    assert m.training_rows is not None and m.training_rows.ids is None
    frame = read_table(mixed(tmp_path / "mix.csv", train, new, 20))  # ids there, but the model knows none
    ov = m.evaluation_overlap(frame, source="mix")
    assert (ov.overlapping, ov.matched_by, ov.note, ov.refused) == (20, "identical feature rows and class", None, True)


def test_the_cli_refuses_a_table_mostly_of_training_rows(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, saved = tables
    path = mixed(tmp_path / "half.csv", train, new, 150)
    code, doc, _ = evaluate(path, saved)
    assert code == 2
    (said,) = problems(doc)
    assert "150 of the 300 labelled rows (50.0%, at or above the 5% limit) are rows the model was trained on" in said
    assert "--allow-training-data" in said
    code, doc, err = evaluate(path, saved, "--allow-training-data")
    assert code == 0 and doc["evaluated_on_training_data"] is True and "150 of the 300 labelled rows" in err


def test_the_fingerprints_hold_no_id_and_are_checked_on_load(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, _, saved = tables
    text = (saved / "model.json").read_text(encoding="utf-8")
    kept = json.loads(text)["training_rows"]
    assert kept["id_column"] == "phone_no_m"
    raw = {k: base64.b64decode(kept[k]) for k in ("rows", "ids", "pairs")}
    assert {k: len(v) for k, v in raw.items()} == {"rows": 8 * 300, "ids": 8 * 300, "pairs": 8 * 300}
    ids = read_table(train)["phone_no_m"].to_list()
    assert not any(i in text for i in ids) and not any(i.encode() in v for i in ids for v in raw.values())
    # another model of the same table keeps other fingerprints (its own salt): nothing to link two models by
    again, first = train_model(read_table(train), label="label", id_column="phone_no_m", options=FAST), load_model(saved)
    assert again.training_rows is not None and first.training_rows is not None
    assert again.training_rows.ids is not None and first.training_rows.ids is not None
    assert not np.intersect1d(again.training_rows.ids, first.training_rows.ids).size
    broken = copy(saved, tmp_path / "broken", lambda doc: doc["training_rows"].update(ids=kept["ids"][:-4]))
    with pytest.raises(ModelError, match="damaged"):
        load_model(broken)


def copy(saved: Path, to: Path, change: Callable[[dict[str, Any]], Any]) -> Path:
    """The saved model in another directory, its model.json changed by ``change``."""
    to.mkdir()
    for f in saved.iterdir():
        (to / f.name).write_bytes(f.read_bytes())
    doc = json.loads((to / "model.json").read_text(encoding="utf-8"))
    change(doc)
    (to / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    return to


def test_a_model_saved_before_fingerprints_says_it_cannot_tell(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, saved = tables
    m: TabularModel = load_model(copy(saved, tmp_path / "old", lambda doc: doc.pop("training_rows")))
    assert m.training_rows is None
    ov = m.evaluation_overlap(read_table(mixed(tmp_path / "mix.csv", train, new, 30)), source="mix")
    assert (ov.overlapping, ov.matched_by, ov.refused) == (0, None, False)
    assert ov.warning is not None and "only its whole training table is recognised" in ov.warning
    assert m.training_overlap(read_table(train), source="train") == \
        "the same table as the model's training table (300 labelled rows)"


def test_the_cli_warns_of_a_few_training_rows_and_records_them(tables: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, new, saved = tables
    code, doc, err = evaluate(mixed(tmp_path / "few.csv", train, new, 6), saved)
    assert code == 0
    assert doc["training_overlap"]["training_rows"] == 6 and doc["training_overlap"]["refused"] is False
    assert any(w.startswith("6 of the 300 labelled rows (2.0%)") for w in doc["warnings"])
    assert "6 of the 300 labelled rows" in err
    code, doc, _ = evaluate(new, saved)
    assert code == 0 and doc["training_overlap"]["training_rows"] == 0 and doc["evaluated_on_training_data"] is False
