"""The fraud model's reasons in words: every feature `fraud features` exports (and every column of the Sichuan
fraud-call data) has a name and high/low words in English and Chinese with its unit, an unknown column is
worded from its name, and a value within the training rows' usual range is stated beside the typical value
rather than called "many" or "far more"."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.fraud import compute_features, feature_table
from fairtel.fraud._model import fraud_phrases, train_fraud_model
from fairtel.learn import TrainOptions, load_model
from fairtel.learn._reasons import UNITS, Direction, phrase, phrases_for

PERIOD = "2026-09"
START = datetime(2026, 9, 1, 8, tzinfo=UTC)
SICHUAN = Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud" / "sichuan" / "users_features_labelled.csv"
SICHUAN_COLUMNS = [
    "opposite_count",
    "opposite_unique",
    "voccalltype1",
    "imeis",
    "voc_calltype1",
    "city_name_call",
    "county_name_call",
    "phone2opposite_mean",
    "phone2opposite_median",
    "phone2opposite_max",
    "phone2oppo_sum_mean",
    "phone2oppo_sum_median",
    "phone2oppo_sum_max",
    "call_dur_mean",
    "call_dur_median",
    "call_dur_max",
    "call_dur_min",
    "city_name_nunique",
    "county_name_nunique",
    "calltype_id_unique",
    "voc_hour_mode",
    "voc_hour_mode_count",
    "voc_hour_nunique",
    "voc_day_mode",
    "voc_day_mode_count",
    "voc_day_nunique",
    "sms_count",
    "sms_nunique",
    "sms_rate",
    "calltype_2",
    "calltype_rate",
    "hour_mode",
    "hour_mode_count",
    "hour_nunique",
    "day_mode",
    "day_mode_count",
    "day_nunique",
    "busi_count",
    "flow_mean",
    "flow_median",
    "flow_min",
    "flow_max",
    "flow_var",
    "flow_sum",
    "month_ids",
    "flow_month",
    "arpu_mean",
    "arpu_var",
    "arpu_max",
    "arpu_min",
    "arpu_median",
    "arpu_sum",
    "arpu_skew",
    "arpu_sem",
    "arpu_quantile",
]
CJK_LATIN = re.compile(r"[\u4e00-\u9fff][A-Za-z]|[A-Za-z][\u4e00-\u9fff]")
SNAKE = re.compile(r"[A-Za-z0-9]+_[A-Za-z0-9_]+")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _usage(catalog: Catalog, lines: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, list[bool]]:
    """A month of voice, SMS, data, roaming and premium-rate calls on ``lines`` lines; a third of them call
    premium numbers at night from a shared handset, soon after activation. Returns usage, subscribers, truth."""
    rng = np.random.default_rng(seed)
    premium = catalog.zone("intl-premium").prefixes[0]
    rows: list[dict[str, Any]] = []
    truth: list[bool] = []
    n = 0

    def add(msisdn: str, kind: str, direction: str, at: datetime, **kw: Any) -> None:
        nonlocal n
        n += 1
        rows.append(
            {
                "record_id": f"w{n:08d}",
                "source": "t",
                "msisdn": msisdn,
                "kind": kind,
                "direction": direction,
                "started_at": at,
                "duration_s": kw.get("dur"),
                "bytes_up": kw.get("up"),
                "bytes_down": kw.get("down"),
                "peer": kw.get("peer"),
                "roaming_country": kw.get("roam"),
                "cell_id": f"460-00-{rng.integers(1, 6)}",
                "imei": kw.get("imei", f"35{msisdn[-12:]}"),
            }
        )

    for i in range(lines):
        msisdn = f"86139{i:08d}"
        bad = bool(rng.random() < 0.35)
        truth.append(bad)
        for d in range(int(rng.integers(3, 20))):
            day = START + timedelta(days=d)
            for k in range(int(rng.integers(1, 12))):
                add(
                    msisdn,
                    "voice",
                    "out",
                    day + timedelta(minutes=int(rng.integers(0, 900))),
                    peer=f"86138{rng.integers(0, 40):08d}",
                    dur=int(rng.integers(0, 400)),
                    roam="FR" if k == 0 and i % 7 == 0 else None,
                )
            for _ in range(int(rng.integers(0, 6))):
                add(
                    msisdn,
                    "voice",
                    "in",
                    day + timedelta(minutes=int(rng.integers(0, 900))),
                    peer=f"86138{rng.integers(0, 40):08d}",
                    dur=int(rng.integers(5, 300)),
                )
            for _ in range(int(rng.integers(0, 4))):
                add(
                    msisdn,
                    "sms",
                    "out" if rng.random() < 0.5 else "in",
                    day + timedelta(hours=12),
                    peer="8613800000001",
                )
            if rng.random() < 0.6:
                add(
                    msisdn,
                    "data",
                    "out",
                    day + timedelta(hours=13),
                    up=int(rng.integers(0, 10**7)),
                    down=int(rng.integers(0, 10**9)),
                )
            if bad or rng.random() < 0.05:
                for _ in range(int(rng.integers(1, 6))):
                    add(
                        msisdn,
                        "voice",
                        "out",
                        day + timedelta(hours=int(rng.integers(16, 22))),
                        peer=f"{premium}{rng.integers(0, 30):06d}",
                        dur=int(rng.integers(30, 900)),
                        imei="356938037867562" if bad else f"35{msisdn[-12:]}",
                    )
            if rng.random() < 0.1:  # a one-ring call from abroad, called back
                ring = f"{premium}999{i:03d}"
                add(msisdn, "voice", "in", day + timedelta(hours=2), peer=ring, dur=0)
                add(msisdn, "voice", "out", day + timedelta(hours=3), peer=ring, dur=60)
    usage = pl.DataFrame(
        rows,
        schema={
            "record_id": pl.String,
            "source": pl.String,
            "msisdn": pl.String,
            "kind": pl.String,
            "direction": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "duration_s": pl.Int64,
            "bytes_up": pl.Int64,
            "bytes_down": pl.Int64,
            "peer": pl.String,
            "roaming_country": pl.String,
            "cell_id": pl.String,
            "imei": pl.String,
        },
    )
    subs = pl.DataFrame(
        {
            "msisdn": [f"86139{i:08d}" for i in range(lines)],
            "activated_at": [START - timedelta(days=int(rng.integers(1, 900))) for _ in range(lines)],
        },
        schema={"msisdn": pl.String, "activated_at": pl.Datetime("us", "UTC")},
    )
    return usage, subs, truth


@pytest.fixture(scope="module")
def table(catalog: Catalog) -> pl.DataFrame:
    usage, subs, truth = _usage(catalog, 90)
    lines = compute_features(usage, catalog=catalog, subscribers=subs).lines
    t = feature_table(lines, period=PERIOD)
    bad = dict(zip([f"86139{i:08d}" for i in range(len(truth))], truth, strict=True))
    return t.with_columns(pl.col("msisdn").replace_strict(bad, return_dtype=pl.Int64).alias("fraud"))


@pytest.fixture(scope="module")
def model(table: pl.DataFrame) -> Any:
    return train_fraud_model(
        table, label="fraud", options=TrainOptions(folds=3, learning_rate=0.1, max_rounds=200, early_stopping=20, bag=1)
    )


def _worded(entry: Any) -> bool:
    return (
        all((entry.name_en, entry.name_zh, entry.high_en, entry.high_zh, entry.low_en, entry.low_zh))
        and entry.unit in UNITS
    )


def test_every_feature_of_fraud_features_has_words(table: pl.DataFrame) -> None:
    features = [c for c in table.columns if c not in {"msisdn", "period", "fraud"}]
    assert {"data_bytes", "calls_out_answered", "data_sessions", "premium_numbers", "premium_night_share"} <= set(
        features
    )
    book = phrases_for(features, fraud_phrases())
    assert [f for f in features if f not in book or not _worded(book[f])] == []


def test_every_column_of_the_sichuan_data_has_words() -> None:
    if SICHUAN.is_file():
        header = SICHUAN.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert [c for c in header if c not in {"phone_no_m", "label"}] == SICHUAN_COLUMNS
    book = phrases_for(SICHUAN_COLUMNS, fraud_phrases())
    assert [c for c in SICHUAN_COLUMNS if c not in book or not _worded(book[c])] == []


def test_columns_whose_names_differ_only_by_punctuation_keep_their_own_words() -> None:
    book = phrases_for(["voccalltype1", "voc_calltype1"], fraud_phrases())
    assert (book["voccalltype1"].unit, book["voc_calltype1"].unit) == ("count", "share")
    assert phrase("voccalltype1", "219", Direction.HIGH, book["voccalltype1"])[0] == "many outgoing calls (219)"


def test_phrasebook_zh_puts_a_space_between_chinese_and_latin() -> None:
    for name, e in fraud_phrases().items():
        for text in (e.name_zh, e.high_zh, e.low_zh):
            assert not CJK_LATIN.search(text), (name, text)


def test_values_are_written_in_their_units() -> None:
    book = fraud_phrases()
    assert phrase("data_bytes", "0", Direction.LOW, book["data_bytes"]) == (
        "hardly any mobile data (0 MB)",
        "几乎不用流量（0 MB）",
    )
    assert phrase("data_bytes", "2.5e+09", Direction.HIGH, book["data_bytes"])[0] == "heavy mobile data use (2.5 GB)"
    assert phrase("premium_night_share", "0.8", Direction.HIGH, book["premium_night_share"]) == (
        "premium calls mostly at night (80%)",
        "国际高额呼叫多在夜间（80%）",
    )
    assert (
        phrase("mean_out_duration_s", "95", Direction.HIGH, book["mean_out_duration_s"])[1] == "主叫平均时长长（95秒）"
    )
    assert phrase("premium_minutes", "12.5", Direction.HIGH, book["premium_minutes"])[0].endswith("(12.5 min)")
    assert (
        phrase("calls_out_answered", "3788", Direction.HIGH, book["calls_out_answered"])[0]
        == "many answered outgoing calls (3788)"
    )
    assert phrase("flow_sum", "1258.4", Direction.HIGH, book["flow_sum"])[0] == "heavy mobile data use (1.3 GB)"


def test_an_unknown_column_is_worded_from_its_name() -> None:
    assert phrase("premium_night_share", "0.8", Direction.HIGH, None) == (
        "premium night share is high (0.8)",
        "premium night share 偏高（0.8）",
    )
    assert phrase("someNewRatio", "2", Direction.LOW, None) == ("some New Ratio is low (2)", "some New Ratio 偏低（2）")
    en, zh = phrase("odd_col", "3", Direction.HIGH, None, typical="1")
    assert (en, zh) == ("odd col: 3, above the typical 1", "odd col 为3，高于一般水平（1）")


def test_a_trained_models_reasons_name_no_raw_column(model: Any, table: pl.DataFrame) -> None:
    reasons = [r for s in model.score(table, top=10) for r in s.reasons]
    assert len({r.feature for r in reasons}) >= 5
    for r in reasons:
        assert not SNAKE.search(r.en) and not SNAKE.search(r.zh), (r.feature, r.en, r.zh)
        assert r.feature not in r.en and r.feature not in r.zh
        assert not CJK_LATIN.search(r.zh), r.zh


def test_only_a_value_outside_the_usual_range_is_called_high_or_low(model: Any, table: pl.DataFrame) -> None:
    ranges = model.meta["ranges"]
    assert set(ranges) == set(model.spec.names)
    x = model.matrix(table)
    at = {n: j for j, n in enumerate(model.spec.names)}
    seen = {"usual": 0, "unusual": 0}
    for i, s in enumerate(model.score(table, top=10)):
        for r in s.reasons:
            v = x[i, at[r.feature]]
            if np.isnan(v):
                continue
            low, mid, high = ranges[r.feature]
            entry = model.phrases[r.feature]
            if not ((v >= high and v > mid) or (v <= low and v < mid)):
                seen["usual"] += 1
                assert "typical" in r.en and "一般水平" in r.zh, (r.en, v, ranges[r.feature])
                assert r.en.startswith(entry.name_en) and r.zh.startswith(entry.name_zh)
            else:
                seen["unusual"] += 1
                assert "typical" not in r.en and "一般水平" not in r.zh, (r.en, v, ranges[r.feature])
    assert seen["usual"] and seen["unusual"], seen


def test_a_model_saved_without_ranges_loads_and_scores_the_same(
    model: Any, table: pl.DataFrame, tmp_path: Path
) -> None:
    path = model.save(tmp_path / "m")
    doc = json.loads((path / "model.json").read_text(encoding="utf-8"))
    del doc["meta"]["ranges"]
    for entry in doc["phrases"].values():  # words as models stored them before they had names and units
        for key in ("name_en", "name_zh", "unit"):
            entry.pop(key, None)
    (path / "model.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    old = load_model(path)
    assert np.allclose(old.predict_proba(table), model.predict_proba(table), atol=1e-12)
    reasons = [r for s in old.score(table, top=3) for r in s.reasons]
    assert reasons and not any("typical" in r.en for r in reasons)
