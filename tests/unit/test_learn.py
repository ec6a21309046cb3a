"""fairtel.learn: preparation of any labelled table, the calibrated scorer, metrics, CV, reasons, persistence."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from fairtel.core.errors import InvalidInputError
from fairtel.learn import (
    CalibrationKind,
    ColumnKind,
    Direction,
    Phrase,
    TabularModel,
    TrainOptions,
    best_f1_threshold,
    binary_metrics,
    cross_validate,
    infer_spec,
    load_model,
    read_table,
    top_decile_lift,
    train_model,
)
from fairtel.learn._calibration import fit_calibration
from fairtel.learn._linear import fit_linear

FAST = TrainOptions(folds=3, learning_rate=0.1, max_rounds=300, early_stopping=30)


def customers(n: int = 500, seed: int = 7) -> pl.DataFrame:
    """A churn-like table as a CSV export would give it: all text, blanks, yes/no label, an id, a constant."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    monthly = rng.uniform(20, 120, n)
    plan = rng.choice(["basic", "gold", "silver"], n)
    z = 0.5 - 0.06 * tenure + 0.02 * monthly + np.where(plan == "basic", 1.2, 0.0) + rng.normal(0, 0.3, n)
    churn = rng.random(n) < 1 / (1 + np.exp(-z))
    total = [" " if t == 0 else f"{t * m:.2f}" for t, m in zip(tenure, monthly, strict=True)]
    return pl.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "row_number": [str(i + 1) for i in range(n)],
        "tenure": [str(t) for t in tenure],
        "monthly": [f" {m:.2f}" for m in monthly],  # stray whitespace
        "plan": plan.tolist(),
        "total": total,
        "country": ["CN"] * n,
        "Churn": ["Yes" if c else "No" for c in churn],
    })


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def model(frame: pl.DataFrame) -> TabularModel:
    return train_model(frame, label="churn", id_column="customer_id", options=FAST,
                       phrasebook={"Tenure": Phrase(low_en="short tenure ({value})", low_zh="在网时间短（{value}）")})


# -- preparation ---------------------------------------------------------------------------------------------


def test_spec_types_columns_and_says_what_it_dropped(frame: pl.DataFrame) -> None:
    spec = infer_spec(frame, label="Churn", id_column="customer_id")
    kinds = {c.name: c.kind for c in spec.columns}
    assert kinds == {"tenure": ColumnKind.NUMERIC, "monthly": ColumnKind.NUMERIC, "plan": ColumnKind.CATEGORICAL,
                     "total": ColumnKind.NUMERIC}
    assert spec.dropped["customer_id"] == "id column"
    assert spec.dropped["row_number"].startswith("id-like")
    assert spec.dropped["country"] == "constant"
    assert (spec.positive, spec.negative) == ("Yes", "No")
    x = spec.matrix(frame)
    total = x[:, spec.names.index("total")]
    blanks = np.array([v.strip() == "" for v in frame["total"].to_list()])
    assert blanks.any() and np.isnan(total[blanks]).all() and not np.isnan(total[~blanks]).any()
    assert x[:, spec.names.index("monthly")].min() >= 20  # " 37.10" parsed despite the space


@pytest.mark.parametrize(
    ("values", "positive"),
    [(["yes", "no"], "yes"), (["True", "False"], "True"), (["0", "1"], "1"), (["stayed", "churned"], "churned"),
     (["N", "Y"], "Y"), (["fraud", "normal"], "fraud")],
)
def test_label_classes_are_recognised(values: list[str], positive: str) -> None:
    n = 60
    f = pl.DataFrame({"x": [str(i % 7) for i in range(n)], "y": [values[i % 3 == 0] for i in range(n)]})
    spec = infer_spec(f, label="y")
    assert spec.positive == positive
    assert spec.labels(f).sum() == sum(v == positive for v in f["y"].to_list())


def test_unknown_label_values_make_the_rarer_class_positive() -> None:
    f = pl.DataFrame({"x": [str(i) for i in range(40)], "y": ["A" if i % 4 == 0 else "B" for i in range(40)]})
    assert infer_spec(f, label="y").positive == "A"


def test_three_classes_and_missing_columns_are_reported() -> None:
    f = pl.DataFrame({"x": ["1", "2", "3"], "y": ["a", "b", "c"]})
    with pytest.raises(InvalidInputError, match="problem") as e:
        infer_spec(f, label="y", source="t.csv")
    assert "exactly two classes" in str(e.value)
    with pytest.raises(InvalidInputError) as e2:
        infer_spec(f, label="nope", source="t.csv")
    assert e2.value.problems[0].field == "nope"


def test_read_table_keeps_text_and_reports_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("id,amount,label\n1, 12.5 ,yes\n2, ,no\n", encoding="utf-8")
    f = read_table(p)
    assert f.dtypes == [pl.Utf8, pl.Utf8, pl.Utf8]
    with pytest.raises(InvalidInputError):
        read_table(tmp_path / "absent.csv")


# -- metrics -------------------------------------------------------------------------------------------------


def test_best_f1_threshold_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = (rng.random(300) < 0.3).astype(np.int64)
        p = np.round(np.clip(y * 0.3 + rng.random(300) * 0.8, 0, 1), 2)  # rounded: many ties
        t = best_f1_threshold(y, p)
        brute = max(f1_score(y, p >= c) for c in np.unique(p))
        assert f1_score(y, p >= t) == pytest.approx(brute)


def test_metrics_on_a_hand_worked_case() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3, 0.05, 0.15, 0.25])
    m = binary_metrics(y, p, 0.5)
    assert (m.precision, m.recall) == (pytest.approx(3 / 4), 1.0)
    assert m.f1 == pytest.approx(2 * 0.75 / 1.75)
    assert m.top_decile_lift == pytest.approx(1 / 0.3)  # top 1 of 10 is positive; base rate 0.3
    assert m.roc_auc == pytest.approx(20 / 21)  # one negative (0.7) ranks above one positive (0.6)
    assert top_decile_lift(y, -p) == 0.0


# -- the scorer ----------------------------------------------------------------------------------------------


def test_newton_logistic_matches_scikit_learn(frame: pl.DataFrame) -> None:
    spec = infer_spec(frame.drop("plan", "total"), label="Churn", id_column="customer_id")
    x, y = spec.matrix(frame), spec.labels(frame)
    lin = fit_linear(x, y, spec, c=0.5)
    z = np.column_stack([(x[:, j] - x[:, j].mean()) / x[:, j].std() for j in range(x.shape[1])])
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(z, y)
    assert np.allclose(lin.raw(x), ref.decision_function(z), atol=1e-5)


def test_model_learns_calibrates_and_thresholds_out_of_fold(model: TabularModel, frame: pl.DataFrame) -> None:
    oof = model.meta["out_of_fold"]
    assert oof["roc_auc"] > 0.8
    assert 0.0 < model.threshold < 1.0 and oof["threshold"] == model.threshold
    p = model.predict_proba(frame)
    assert ((p > 0) & (p < 1)).all()
    # calibrated: the mean probability is close to the churn rate
    assert abs(p.mean() - model.spec.labels(frame).mean()) < 0.05
    assert model.meta["rows"] == frame.height and len(model.meta["data_hash"]) == 64


def test_contributions_add_up_to_the_score(model: TabularModel, frame: pl.DataFrame) -> None:
    x = model.matrix(frame)
    c = model.contributions(x)
    assert c.shape == (frame.height, len(model.spec.columns) + 1)
    assert np.allclose(c.sum(axis=1), model.raw_score(x), atol=1e-8)


def test_reasons_in_both_languages_with_phrasebook_and_fallback(model: TabularModel, frame: pl.DataFrame) -> None:
    scored = model.score(frame)
    flagged = [s for s in scored if s.flagged]
    assert flagged and all(s.reasons for s in flagged)
    assert all(r.contribution > 0 and r.en and r.zh for s in scored for r in s.reasons)
    reasons = [r for s in flagged for r in s.reasons]
    tenure = [r for r in reasons if r.feature == "tenure" and r.direction is Direction.LOW]
    assert tenure and tenure[0].en.startswith("short tenure (") and tenure[0].zh.startswith("在网时间短（")
    plan = [r for r in reasons if r.feature == "plan"]
    assert plan and plan[0].en == f"plan is {plan[0].value}" and plan[0].zh == f"plan为{plan[0].value}"
    assert any(r.en.endswith(")") and "is high" in r.en for r in reasons if r.feature == "monthly")
    # the basic plan drives churn: when plan is a reason, it is the basic plan
    assert {r.value for r in plan} == {"basic"}


def test_save_and_reload_give_identical_predictions(model: TabularModel, frame: pl.DataFrame, tmp_path: Path) -> None:
    out = model.save(tmp_path / "m")
    assert model.options.bag == 3 and len(model.more_boosters) == 2
    assert sorted(p.name for p in out.iterdir()) == ["booster-1.txt", "booster-2.txt", "booster.txt", "model.json"]
    doc = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert doc["spec"]["positive"] == "Yes" and doc["threshold"] == model.threshold
    assert doc["format_version"] == 2 and doc["boosters"] == ["booster.txt", "booster-1.txt", "booster-2.txt"]
    again = load_model(out)
    assert np.array_equal(again.predict_proba(frame), model.predict_proba(frame))
    assert [s.to_dict() for s in again.score(frame[:20])] == [s.to_dict() for s in model.score(frame[:20])]


def test_bagged_seeds_are_averaged_and_a_smaller_bag_replaces_a_larger_one(
    model: TabularModel, frame: pl.DataFrame, tmp_path: Path
) -> None:
    x = model.matrix(frame)
    each = [b.predict(x, num_iteration=model.n_rounds, raw_score=True) for b in [model.booster, *model.more_boosters]]
    assert not np.allclose(each[0], each[1])  # the seeds differ (row and feature sampling)
    single = replace(model, more_boosters=[])
    assert np.allclose(model._trees(x, raw_score=True), np.mean(each, axis=0))
    out = model.save(tmp_path / "m")
    single.save(out)
    assert sorted(p.name for p in out.iterdir()) == ["booster.txt", "model.json"]
    assert np.array_equal(load_model(out).predict_proba(frame), single.predict_proba(frame))


def test_version_1_model_files_still_load(model: TabularModel, frame: pl.DataFrame, tmp_path: Path) -> None:
    single = replace(model, more_boosters=[])
    out = single.save(tmp_path / "v1")
    doc = json.loads((out / "model.json").read_text(encoding="utf-8"))
    del doc["boosters"]
    doc["format_version"] = 1
    for k in ("search", "bag"):
        del doc["options"][k]
    (out / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    old = load_model(out)
    assert (old.options.search, old.options.bag) == (False, 1)
    assert np.array_equal(old.predict_proba(frame), single.predict_proba(frame))


def test_tree_shape_is_chosen_on_inner_folds_by_log_loss(model: TabularModel) -> None:
    shapes = model.meta["shapes"]
    assert len(shapes) == 2 and sum(s["chosen"] for s in shapes) == 1
    chosen = next(s for s in shapes if s["chosen"])
    assert chosen["logloss"] == min(s["logloss"] for s in shapes)
    assert (model.options.num_leaves, model.options.min_child_samples) == (chosen["num_leaves"], chosen["min_child_samples"])
    assert model.meta["best_round_cv"] == chosen["best_round"]
    one = TrainOptions(search=False)
    assert one.shapes() == [(one.num_leaves, one.min_child_samples, one.feature_fraction)]


def test_scoring_tolerates_unseen_levels_and_names_missing_columns(model: TabularModel, frame: pl.DataFrame) -> None:
    odd = frame[:5].with_columns(pl.lit("platinum").alias("plan"), pl.lit("").alias("tenure"))
    p = model.predict_proba(odd)
    assert np.isfinite(p).all()
    with pytest.raises(InvalidInputError) as e:
        model.predict_proba(frame.drop("monthly"), source="new.csv")
    assert e.value.problems[0].field == "monthly" and e.value.problems[0].file == "new.csv"


def test_unlabelled_rows_are_left_out_of_training(frame: pl.DataFrame) -> None:
    f = frame.with_columns(pl.when(pl.int_range(pl.len()) < 25).then(pl.lit(" ")).otherwise(pl.col("Churn")).alias("Churn"))
    m = train_model(f, label="Churn", options=FAST)
    assert (m.meta["rows"], m.meta["rows_unlabelled"]) == (frame.height - 25, 25)


def test_isotonic_and_platt_calibrations_are_monotone_and_round_trip() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 2, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-raw))).astype(np.int64)
    for kind in (CalibrationKind.PLATT, CalibrationKind.ISOTONIC):
        cal = fit_calibration(raw, y, kind)
        grid = np.linspace(-6, 6, 50)
        p = cal(grid)
        assert (np.diff(p) >= 0).all() and p[0] < 0.2 and p[-1] > 0.8
        assert np.array_equal(type(cal).from_dict(json.loads(json.dumps(cal.to_dict())))(grid), p)


def test_cross_validation_runs_every_fold(frame: pl.DataFrame) -> None:
    res = cross_validate(frame[:300], label="Churn", id_column="customer_id", folds=3, repeats=2, options=FAST)
    assert len(res.runs) == 6 and sum(r.n for r in res.runs) == 600
    s = res.summary
    assert 0.7 < s["roc_auc"].mean <= 1.0 and s["roc_auc"].sd >= 0.0
    assert res.to_dict()["n"] == 300
