"""A line's age counts from its current holding, so a line that changed owner (过户: the subscribers' ``holder_since``)
is "new" to the IRSF and scam rules' new-line signal, as a newly activated line is: the signal and its threshold are
kept (premium calls soon after an owner change are a known pattern), but the reason says "new holder since <date>"
(code ``new_holder``, the date on the operator's clock), so that an analyst tells a line that changed hands from a new
line. The features' ``holder_since`` gives the date (null when the holding began with the activation).

Before: both read "premium calls began 2.4 days after the line was activated" / "line activated 2.4 days before this
activity" of a line activated a year earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.fraud import Detector, FeatureConfig, Thresholds, compute_features, detect, feature_table

CN = timezone(timedelta(hours=8))
MOVED, FRESH = "8613800000001", "8613800000002"  # changed owner on 10 March / activated on 10 March
PREMIUM = "8819000001"  # the catalog's intl-premium range
NOW = datetime(2026, 4, 1, tzinfo=UTC)
TZ = "Asia/Shanghai"


def _rec(rid: str, msisdn: str, day: int, hour: int, peer: str, duration_s: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "duration_s": duration_s,
                  "peer": peer, "parts": 1, "incomplete": False}


def _usage(pattern: str) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for m in (MOVED, FRESH):
        # the previous customer's ordinary calls before the change (MOVED only: FRESH was not in service)
        rows += [_rec(f"{m}-old{d}", m, d, 10, "8613912345678", 60) for d in (1, 5) if m == MOVED]
        if pattern == "irsf":
            rows += [_rec(f"{m}-p{i}", m, 12, 10 + i, PREMIUM, 600) for i in range(6)]
        else:  # many different numbers called briefly, none calling back
            rows += [_rec(f"{m}-s{i}", m, 12, 9 + i // 10, f"86139{i:08d}", 8) for i in range(60)]
    return pl.DataFrame(rows, schema=pl.Schema(CLEAN_USAGE_SCHEMA))


def _subscribers() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [MOVED, FRESH],
                         "activated_at": ["2025-01-01T00:00:00+08:00", "2026-03-10T00:00:00+08:00"],
                         "holder_since": ["2026-03-10T00:00:00+08:00", None]},
                        schema_overrides={"holder_since": pl.String})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _reasons(catalog: Catalog, pattern: str, detector: Detector) -> dict[str, dict[str, Any]]:
    features = compute_features(_usage(pattern), catalog=catalog, subscribers=_subscribers(),
                                config=FeatureConfig(tz=TZ))
    found = detect(features, Thresholds(enabled=(detector,)), period="2026-03", now=NOW, tz=TZ)
    out: dict[str, dict[str, Any]] = {}
    for case in found.cases:
        [age] = [r for r in case.reasons if r.code in ("new_line", "new_holder")]
        out[case.subject] = {"code": age.code, "en": age.en, "zh": age.zh, "value": age.value}
    return out


def test_an_irsf_case_on_a_line_that_changed_hands_says_new_holder_since(catalog: Catalog) -> None:
    said = _reasons(catalog, "irsf", Detector.IRSF)
    assert said[MOVED]["code"] == "new_holder"
    assert said[MOVED]["en"] == ("premium calls began 2.4 days after the line changed hands (new holder since "
                                 "2026-03-10) (≤ 30 days)")
    assert said[MOVED]["zh"].startswith("过户（新机主自 2026-03-10 起）2.4 天后即开始拨打高资费号段")
    # the same signal, threshold and value as a new line's: only the words tell them apart
    assert said[FRESH] == {"code": "new_line", "value": said[MOVED]["value"],
                           "en": "premium calls began 2.4 days after the line was activated (≤ 30 days)",
                           "zh": "开户 2.4 天后即开始拨打高资费号段（≤ 30 天）"}


def test_a_scam_case_on_a_line_that_changed_hands_says_new_holder_since(catalog: Catalog) -> None:
    said = _reasons(catalog, "scam", Detector.SCAM)
    assert said[MOVED]["code"] == "new_holder"
    assert said[MOVED]["en"] == "new holder since 2026-03-10, 2.4 days before this activity (≤ 30 days)"
    assert said[MOVED]["zh"] == "过户（新机主自 2026-03-10 起）仅 2.4 天（≤ 30 天）"
    assert said[FRESH]["code"] == "new_line" and said[FRESH]["en"].startswith("line activated 2.4 days")


def test_the_features_date_the_owner_change_and_the_model_does_not_read_it(catalog: Catalog) -> None:
    lines = compute_features(_usage("irsf"), catalog=catalog, subscribers=_subscribers()).lines
    since = dict(lines.select("msisdn", "holder_since").iter_rows())
    assert since == {MOVED: datetime(2026, 3, 9, 16, tzinfo=UTC), FRESH: None}
    assert "holder_since" not in feature_table(lines, period="2026-03").columns
    assert compute_features(_usage("irsf"), catalog=catalog).lines["holder_since"].null_count() == 2
