"""The threshold of `flagged` is chosen out of time: the share of subscribers that maximised F1 at the latest
labelled cut (scored by a model that never saw it) is the share flagged at scoring; the validation figures
check the same rule one cut earlier, so no validation label chooses the threshold they are measured at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import polars as pl
import pytest
from tests.unit.test_churn_warning import operator

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.insight import ChurnData, ChurnWarning, ChurnWindow, activity, churn_early_warning, eligible, plan_cuts
from fairtel.insight._churn_warning import THRESHOLD_RULES, best_f1_share, share_threshold
from fairtel.learn import TrainOptions

FAST = TrainOptions(folds=3, max_rounds=200, early_stopping=20)
TZ = "Asia/Shanghai"


@cache
def world() -> tuple[ChurnData, list[str]]:
    """The test operator, with a status history: of two lines in use at the end of the data, the first was
    suspended a few days before the end and is back in service now, the second was suspended only after."""
    usage, subs, _ = operator()
    act = activity(usage, TZ)
    cuts = plan_cuts(act, ChurnWindow())
    end = datetime(cuts.scoring.year, cuts.scoring.month, cuts.scoring.day, tzinfo=UTC) - timedelta(hours=8)
    first, second = eligible(act, subs, cuts.scoring, ChurnWindow())["msisdn"].to_list()[:2]
    history = pl.DataFrame(
        {"msisdn": [first, first, first, second], "status": ["active", "suspended", "active", "suspended"],
         "since": [datetime(2024, 1, 1, tzinfo=UTC), end - timedelta(days=3), end + timedelta(days=1),
                   end + timedelta(days=2)]},
        schema_overrides={"since": pl.Datetime("us", "UTC")},
    )
    subs = subs.with_columns(
        pl.when(pl.col("msisdn") == second).then(pl.lit("suspended")).otherwise(pl.lit("active")).alias("status"),
        pl.when(pl.col("msisdn") == second).then(pl.lit(end + timedelta(days=2))).alias("suspended_at")
        .cast(pl.Datetime("us", "UTC")),
    )
    catalog = load_catalog(default_catalog_path())
    return ChurnData(usage, subs, catalog, status_history=history), [first, second]


@cache
def _warnings() -> dict[str, ChurnWarning]:
    data, _ = world()
    return {rule: churn_early_warning(data, options=FAST, threshold=rule) for rule in THRESHOLD_RULES}


def warned() -> tuple[ChurnWarning, list[str]]:
    """The warning on the test operator (recent-cut threshold), and the two lines of ``world``."""
    return _warnings()["recent_cut"], world()[1]


def test_the_scoring_threshold_flags_the_share_that_was_best_at_the_latest_labelled_cut() -> None:
    w = _warnings()["recent_cut"]
    rule = w.counts["threshold"]
    assert rule["rule"] == "recent_cut" and 0 < rule["share"] < 1
    assert w.model.threshold == rule["threshold"] and w.model.meta["threshold"] == rule
    assert w.model.threshold != rule["out_of_fold"]
    # the share is of every subscriber eligible at scoring; the list leaves out one suspended line
    flagged = int(w.scores["flagged"].sum())
    n = w.scores.height + 1
    assert abs(flagged - rule["share"] * n) <= 2
    assert w.summary()["threshold"]["share"] == rule["share"]


def test_the_validation_figures_are_measured_at_a_threshold_no_validation_label_chose() -> None:
    w = _warnings()["recent_cut"]
    rule = w.counts["threshold"]
    assert len(w.cuts.train) >= 2 and "share_checked" in rule and "latest training cut" in rule["validated"]
    v = w.validation
    assert v.threshold != rule["out_of_fold"]
    assert 0 <= v.precision <= 1 and 0 <= v.recall <= 1 and v.f1 > 0


def test_the_out_of_fold_rule_keeps_the_scorers_own_threshold() -> None:
    w = _warnings()["out_of_fold"]
    rule = w.counts["threshold"]
    assert rule["rule"] == "out_of_fold" and "share" not in rule
    assert w.model.threshold == rule["threshold"] == w.model.meta["out_of_fold"]["threshold"]


def test_an_unknown_rule_is_refused() -> None:
    data, _ = world()
    with pytest.raises(ValueError, match="threshold must be one of"):
        churn_early_warning(data, options=FAST, threshold="half")


def test_share_threshold_and_best_f1_share() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    y = np.array([1, 1, 0, 0, 0])
    assert best_f1_share(y, p) == pytest.approx(0.4)
    assert share_threshold(p, 0.4) == 0.8
    assert int((p >= share_threshold(p, 0.0)).sum()) == 1  # at least one
    assert int((p >= share_threshold(p, 1.0)).sum()) == 5
