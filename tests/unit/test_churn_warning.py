"""Churn early warning on the operator's own data: windows without leakage, labels, time-based validation,
reasons in zh/en, the retention list ranked by expected value, and `fairtel churn warn | retention`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._insight import register
from fairtel.insight import (
    ChurnData,
    ChurnWarningError,
    ChurnWindow,
    activity,
    churn_early_warning,
    churn_features,
    churn_labels,
    plan_cuts,
)
from fairtel.learn import TrainOptions

TZ = "Asia/Shanghai"
START = date(2026, 9, 1)
FAST = TrainOptions(folds=3, max_rounds=200, early_stopping=20)
runner = CliRunner()


def operator(n: int = 360, days: int = 98, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame, set[str]]:
    """Usage and subscribers where a fifth of the lines fade out from a random day; returns the faders."""
    rng = np.random.default_rng(seed)
    msisdns = [f"86138{i:08d}" for i in range(n)]
    level = rng.lognormal(1.3, 0.4, n)
    fade_from = np.where(rng.random(n) < 0.2, rng.integers(10, days - 20, n), -1)
    d = np.arange(days)[None, :]
    ramp = np.where(fade_from[:, None] >= 0, np.clip(1 - (d - fade_from[:, None]) / 30, 0.05, 1), 1.0)
    counts = rng.poisson(level[:, None] * ramp)
    sub, day = np.nonzero(counts)
    reps = counts[sub, day]
    sub, day = np.repeat(sub, reps), np.repeat(day, reps)
    m = len(sub)
    kind = rng.choice(["voice", "sms", "data"], size=m, p=[0.4, 0.2, 0.4])
    base = datetime(START.year, START.month, START.day, tzinfo=UTC) - timedelta(hours=8)
    started = [base + timedelta(days=int(x), seconds=int(s)) for x, s in zip(day, rng.integers(8 * 3600, 22 * 3600, m), strict=True)]
    usage = pl.DataFrame({
        "record_id": [f"r{i}" for i in range(m)],
        "source": ["t"] * m,
        "msisdn": [msisdns[s] for s in sub],
        "kind": kind.tolist(),
        "_out": (rng.random(m) < 0.6).tolist(),
        "started_at": started,
        "_dur": rng.integers(10, 600, m).tolist(),
        "_bytes": rng.integers(10**5, 10**8, m).tolist(),
        "_peer": [f"86139{int(x):08d}" for x in rng.integers(0, 40, m)],
    }, schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    data, voice = pl.col("kind") == "data", pl.col("kind") == "voice"
    usage = usage.with_columns(
        pl.when(~data).then(pl.when(pl.col("_out")).then(pl.lit("out")).otherwise(pl.lit("in"))).alias("direction"),
        pl.when(voice).then(pl.col("_dur")).alias("duration_s"),
        pl.when(data).then(pl.col("_bytes")).alias("bytes_down"),
        pl.when(~data).then(pl.col("_peer")).alias("peer"),
    ).drop("_out", "_dur", "_bytes", "_peer")
    subs = pl.DataFrame({
        "msisdn": msisdns,
        "plan_id": rng.choice(["basic-39", "unlimited-129", "senior-19"], n),
        "activated_at": [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=int(x)) for x in rng.integers(0, 600, n)],
        "language": rng.choice(["zh", "en"], n, p=[0.8, 0.2]),
        "region": rng.choice(["shanghai", "beijing"], n),
    })
    return usage, subs, {msisdns[i] for i in np.flatnonzero(fade_from >= 0)}


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame, set[str]]:
    return operator()


def test_features_see_nothing_after_the_cut(world: tuple[pl.DataFrame, pl.DataFrame, set[str]]) -> None:
    usage, subs, _ = world
    window = ChurnWindow()
    cut = START + timedelta(days=42)
    full = churn_features(activity(usage, TZ), subs, cut, window)
    # drop everything from the cut on, and change everything after it: the features must not move
    instant = datetime(cut.year, cut.month, cut.day, tzinfo=UTC) - timedelta(hours=8)
    before = usage.filter(pl.col("started_at") < instant)
    after = usage.filter(pl.col("started_at") >= instant).with_columns(pl.col("duration_s") * 10)
    for variant in (before, pl.concat([before, after])):
        same = churn_features(activity(variant, TZ), subs, cut, window)
        assert same.equals(full)
    assert full.height > 300 and full["events_per_day"].min() > 0  # type: ignore[operator]


def test_labels_mark_faded_lines_and_use_only_the_label_window(world: tuple[pl.DataFrame, pl.DataFrame, set[str]]) -> None:
    usage, subs, faders = world
    window = ChurnWindow()
    act = activity(usage, TZ)
    cut = act.last_day + timedelta(days=1 - window.horizon)
    labels = churn_labels(act, subs, cut, window)
    churned = set(labels.filter(pl.col("churned") == 1)["msisdn"].to_list())
    steady = set(labels["msisdn"].to_list()) - faders
    assert len(churned & faders) >= 0.6 * len(faders & set(labels["msisdn"].to_list()))
    assert len(churned & steady) <= 0.05 * len(steady)
    # label rate counts the label window only: removing the lead days changes nothing
    lead0 = cut + timedelta(days=window.lead_days)
    lead_i = datetime(lead0.year, lead0.month, lead0.day, tzinfo=UTC) - timedelta(hours=8)
    cut_i = datetime(cut.year, cut.month, cut.day, tzinfo=UTC) - timedelta(hours=8)
    no_lead = usage.filter((pl.col("started_at") < cut_i) | (pl.col("started_at") >= lead_i))
    assert churn_labels(activity(no_lead, TZ), subs, cut, window)["label_rate"].equals(labels["label_rate"])


def test_cuts_validate_later_than_every_training_label(world: tuple[pl.DataFrame, pl.DataFrame, set[str]]) -> None:
    usage, _, _ = world
    window = ChurnWindow()
    act = activity(usage, TZ)
    cuts = plan_cuts(act, window, max_train_cuts=3)
    assert cuts.scoring == act.last_day + timedelta(days=1)
    assert cuts.validation + timedelta(days=window.horizon) == cuts.scoring
    for t in cuts.train:
        assert t + timedelta(days=window.horizon) <= cuts.validation
        assert t - timedelta(days=window.observation_days) >= act.first_day
    with pytest.raises(ChurnWarningError):
        plan_cuts(activity(usage.filter(pl.col("started_at") < datetime(2026, 10, 20, tzinfo=UTC)), TZ), window)


def test_early_warning_validates_in_time_and_ranks_by_expected_value(world: tuple[pl.DataFrame, pl.DataFrame, set[str]]) -> None:
    usage, subs, faders = world
    catalog = load_catalog(default_catalog_path())
    complaints = pl.DataFrame({"msisdn": sorted(faders)[:20], "at": [datetime(2026, 11, 1, tzinfo=UTC)] * 20,
                               "category": ["price"] * 20})
    warning = churn_early_warning(ChurnData(usage, subs, catalog, complaints=complaints), options=FAST)
    assert warning.validation.positives > 10
    assert warning.validation.roc_auc > 0.65 and warning.validation.top_decile_lift > 2.5  # chance: 0.5 and 1
    ranked = warning.retention_list()
    ev = ranked["expected_value_minor"].to_list()
    assert ev == sorted(ev, reverse=True)
    fees = {p.id: int(p.monthly_fee * 100) for p in catalog.plans}
    for r in ranked.head(20).iter_rows(named=True):
        assert r["monthly_revenue_minor"] == fees[r["plan_id"]]
        assert r["expected_value_minor"] == round(r["probability"] * r["monthly_revenue_minor"])
    top = ranked.sort("probability", descending=True).head(ranked.height // 5)
    assert len(set(top["msisdn"].to_list()) & faders) >= 0.5 * top.height
    first = top.row(0, named=True)
    assert first["reason_1_en"] and any("\u4e00" <= ch <= "\u9fff" for ch in first["reason_1_zh"])


def test_cli_warn_writes_the_retention_list(tmp_path: Path) -> None:
    usage, subs, _ = operator(n=240, seed=2)
    d = tmp_path / "op"
    (d / "usage").mkdir(parents=True)
    usage.write_parquet(d / "usage" / "part.parquet")
    subs.with_columns(pl.col("activated_at").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")).write_csv(d / "subscribers.csv")
    (d / "catalog.toml").write_bytes(default_catalog_path().read_bytes())
    app = typer.Typer()
    register(app)
    home = tmp_path / "home"
    res = runner.invoke(app, ["churn", "warn", "--dir", str(d), "--home", str(home), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["scored"] > 200 and len(doc["top"]) == 3
    csv = pl.read_csv(home / "outbox" / "retention.csv")
    assert csv.height == doc["scored"] and csv["rank"].to_list() == list(range(1, csv.height + 1))
    assert (home / "models" / "churn-warning" / "model.json").is_file()
    shown = runner.invoke(app, ["churn", "retention", "--home", str(home), "--json", "--top", "5"])
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)) == 5


def test_retention_csv_writes_exact_amounts() -> None:
    from fairtel.insight import retention_csv

    ranked = pl.DataFrame({"rank": [1, 2], "msisdn": ["1", "2"], "probability": [0.97451, 0.5], "flagged": [True, False],
                           "monthly_revenue_minor": [12900, 3905], "expected_value_minor": [12571, 1953], "currency": ["CNY"] * 2,
                           **{f"reason_{k}_{lang}": ["a", None] for k in (1, 2, 3) for lang in ("en", "zh")}})
    out = retention_csv(ranked)
    assert out["expected_value"].to_list() == ["125.71", "19.53"]
    assert out["monthly_revenue"].to_list() == ["129.00", "39.05"]
    assert out["probability"].to_list() == [0.9745, 0.5]
