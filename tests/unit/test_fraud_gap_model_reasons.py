"""The fraud model's reasons state the brief-call duration the features were counted with, not a fixed 30 s:
when trained on features computed with another reading, and when a model is scored on features computed
with another reading than its training table's."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fairtel.fraud import FeatureConfig
from fairtel.fraud._model import FRAUD_PHRASES, restate, train_fraud_model
from fairtel.learn import TrainOptions


def lines(n: int = 120, seed: int = 5) -> pl.DataFrame:
    """Per-line features where only the brief-call share tells scam callers (label 1) apart."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < 0.3
    brief = np.where(fraud, rng.uniform(0.7, 1.0, n), rng.uniform(0.0, 0.3, n))
    return pl.DataFrame({
        "msisdn": [f"86138{i:08d}" for i in range(n)],
        "brief_call_share": brief,
        "fraud": fraud.astype(int),
    })


def brief_reasons(model: object, frame: pl.DataFrame) -> list[tuple[str, str]]:
    scored = model.score(frame, top=1)  # type: ignore[attr-defined]
    return [(r.en, r.zh) for s in scored for r in s.reasons if r.feature == "brief_call_share"]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return lines()


def test_a_model_trained_on_features_of_another_reading_states_its_duration(frame: pl.DataFrame) -> None:
    model = train_fraud_model(frame, label="fraud", options=TrainOptions(folds=3), reading=FeatureConfig(brief_call_s=45))
    said = brief_reasons(model, frame)
    assert said, "no line was flagged for its brief calls"
    assert all("under 45 s" in en and "45秒以内" in zh for en, zh in said), said[:3]
    assert not any("30" in en or "30" in zh for en, zh in said)


def test_a_model_scored_on_features_of_another_reading_states_the_durations_counted_now(frame: pl.DataFrame) -> None:
    model = train_fraud_model(frame, label="fraud", options=TrainOptions(folds=3))
    assert all("under 30 s" in en for en, _ in brief_reasons(model, frame))  # the default reading, as trained
    now = restate(model, FeatureConfig(brief_call_s=20))
    said = brief_reasons(now, frame)
    assert said and all("under 20 s" in en and "20秒以内" in zh for en, zh in said), said[:3]
    assert model.phrases["brief_call_share"].high_en == "many brief calls under 30 s ({value})"  # the model itself is left as it was
    assert restate(model, None) is model


def test_the_default_phrasebook_says_the_default_duration() -> None:
    default = FeatureConfig().brief_call_s
    assert FRAUD_PHRASES["brief_call_share"].high_en == f"many brief calls under {default} s ({{value}})"
