"""Churn reasons call a value high or low only outside the training rows' usual range (10th to 90th percentile,
kept with the model); a value within it is stated in words with its unit beside the typical value. A model
saved without the ranges words its reasons as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from tests.unit.test_churn_model import write_customers
from tests.unit.test_insight_gap_churn_threshold import FAST, TZ, warned, world

from fairtel.insight import ChurnWindow, activity, plan_cuts, train_churn_model
from fairtel.insight._churn_warning import CHURN_WARNING_PHRASES, _frame, churn_warning_phrases
from fairtel.learn import Direction, load_model, read_table
from fairtel.learn._model import outside, value_ranges
from fairtel.learn._reasons import phrase


def _scoring_rows() -> pl.DataFrame:
    data, _ = world()
    data = data.normalised()
    act = activity(data.usage, TZ)
    cuts = plan_cuts(act, ChurnWindow())
    return _frame(data, act, cuts.scoring, ChurnWindow(), labelled=False)


def test_a_value_within_the_usual_range_is_stated_beside_the_typical_one() -> None:
    e = CHURN_WARNING_PHRASES["minutes_per_day"]
    assert phrase("minutes_per_day", "3.456", Direction.HIGH, e, typical="2.5") == (
        "call minutes a day: 3.5 min, above the typical 2.5 min", "每天通话时长为3.5分钟，高于一般水平（2.5分钟）")
    en, zh = phrase("events_trend", "-0.04", Direction.LOW, CHURN_WARNING_PHRASES["events_trend"], typical="0.01")
    assert en == "weekly change in use: -4%, below the typical 1%" and "低于一般水平" in zh
    # outside the range: the strong words, the value in its unit
    assert phrase("data_mb_per_day", "2500", Direction.HIGH, CHURN_WARNING_PHRASES["data_mb_per_day"])[0] == (
        "heavy data use (2.5 GB a day)")
    assert phrase("monthly_fee", "39", Direction.HIGH, CHURN_WARNING_PHRASES["monthly_fee"]) == (
        "high monthly fee (39 yuan)", "月租较高（39元）")
    eur = churn_warning_phrases("EUR")["monthly_fee"]
    assert phrase("monthly_fee", "12.5", Direction.HIGH, eur)[0] == "high monthly fee (12.5 EUR)"
    assert phrase("monthly_fee", "12.5", Direction.HIGH, eur, typical="10")[0] == (
        "monthly fee (EUR): 12.5, above the typical 10")


def test_the_warning_model_keeps_ranges_and_says_high_or_low_only_outside_them() -> None:
    warning, _ = warned()
    ranges = value_ranges(warning.model.meta)
    assert {"events_per_day", "minutes_per_day", "tenure_months", "events_trend"} <= ranges.keys()
    rows = _scoring_rows()
    x = warning.model.matrix(rows)
    names = [c.name for c in warning.model.spec.columns]
    within = strong = 0
    for i, reasons in enumerate(warning.model.reasons(rows)):
        for r in reasons:
            if r.direction not in (Direction.HIGH, Direction.LOW) or r.feature not in ranges:
                continue
            value = float(x[i, names.index(r.feature)])
            if outside(value, ranges[r.feature]):
                strong += 1
                assert "typical" not in r.en, r.en
            else:
                within += 1
                assert "typical" in r.en and "一般水平" in r.zh, r.en
    assert within > 0 and strong > 0


def test_a_model_saved_without_ranges_words_its_reasons_as_before(tmp_path: Path) -> None:
    warning, _ = warned()
    saved = warning.model.save(tmp_path / "m")
    doc = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    del doc["meta"]["ranges"]
    (saved / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    old = load_model(saved)
    assert value_ranges(old.meta) == {}
    said = [r for rs in old.reasons(_scoring_rows().head(200)) for r in rs]
    assert said and not any("typical" in r.en for r in said)


def test_the_churn_model_on_a_customer_table_keeps_ranges_but_not_for_yes_no_flags(tmp_path: Path) -> None:
    frame = read_table(write_customers(tmp_path / "customers.csv"))
    rng = np.random.default_rng(3)
    frame = frame.with_columns(pl.Series("SeniorCitizen", rng.integers(0, 2, frame.height)))
    m = train_churn_model(frame.drop("ChurnReason"), label="Churn", id_column="customerID", options=FAST)
    ranges = value_ranges(m.meta)
    assert {"tenure", "MonthlyCharges"} <= ranges.keys() and "SeniorCitizen" not in ranges
    said = [r for rs in m.reasons(frame) for r in rs]
    assert any("typical" in r.en for r in said if r.feature in ("tenure", "MonthlyCharges"))
    assert not any("typical" in r.en for r in said if r.feature == "SeniorCitizen")
