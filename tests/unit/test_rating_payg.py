"""Pay-as-you-go pricing and the records rating cannot price (reported, never silently dropped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import InvalidInputError
from fairtel.rating import RATED_COLUMNS, UnratedReason, rate

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
CATALOG = load_catalog(default_catalog_path())


def rec(rid: str, kind: str, msisdn: str = A, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": msisdn, "kind": kind, "direction": "out",
            "started_at": datetime(2026, 3, 3, 10, tzinfo=CN).astimezone(UTC), "duration_s": None,
            "bytes_up": None, "bytes_down": None, "peer": "8613912345678"} | kw


def test_pay_as_you_go_prices() -> None:
    rows = [rec("v", "voice", duration_s=125), rec("s", "sms"), rec("si", "sms", peer="85261234567"),
            rec("d", "data", bytes_up=1024**2, bytes_down=1024**2)]
    res = rate(pl.DataFrame(rows), CATALOG, {A: "payg"}, period="2026-03")
    got = {r["record_id"]: (r["rule_id"], r["amount_minor"], r["unit"]) for r in res.rated.to_dicts()}
    assert got == {
        "v": ("payg/voice-domestic-peak", 57, "second"),  # 3 started minutes at 0.19
        "s": ("payg/sms-domestic", 10, "message"),
        "si": ("intl/sms", 100, "message"),
        "d": ("payg/data-home", 1, "byte"),  # 2 MiB at 5.00/GiB = 0.0098 → half-up 0.01
    }
    assert set(res.rated.columns) == set(RATED_COLUMNS) and res.rated.schema == pl.Schema(RATED_COLUMNS)


def test_accepts_the_lakes_arrow_schema() -> None:
    row = {f.name: None for f in CLEAN_USAGE_SCHEMA} | rec("v", "voice", duration_s=60)
    table = pa.Table.from_pylist([row], schema=CLEAN_USAGE_SCHEMA)
    res = rate(table, CATALOG, pl.DataFrame({"msisdn": [A], "plan_id": ["payg"]}), period="2026-03")
    assert res.rated["amount_minor"].to_list() == [19]


def test_unrated_records_say_why() -> None:
    rows = [rec("stranger", "voice", msisdn=C, duration_s=60), rec("old-plan", "voice", msisdn=B, duration_s=60),
            rec("fax", "fax"), rec("silent", "voice"), rec("ok", "voice", duration_s=60),
            rec("no-kind", None, duration_s=60)]  # type: ignore[arg-type]
    res = rate(pl.DataFrame(rows), CATALOG, {A: "payg", B: "retired-plan"}, period="2026-03")
    assert dict(zip(res.unrated["record_id"], res.unrated["reason"], strict=True)) == {
        "stranger": UnratedReason.UNKNOWN_SUBSCRIBER, "old-plan": UnratedReason.UNKNOWN_PLAN,
        "fax": UnratedReason.UNKNOWN_KIND, "silent": UnratedReason.MISSING_QUANTITY,
        "no-kind": UnratedReason.UNKNOWN_KIND,
    }
    assert res.rated["record_id"].to_list() == ["ok"]


def test_numbers_that_read_as_the_same_integer_are_different_subscribers() -> None:
    """"+8613800000001" and "8613800000001" are two lines as far as the subscriber list says: each has its own
    allowance (a shared counter would charge one for the other's usage)."""
    plus = "+" + A
    rows = [rec("a1", "voice", duration_s=60 * 60), rec("p1", "voice", msisdn=plus, duration_s=60 * 60)]
    one = rate(pl.DataFrame(rows[:1]), CATALOG, {A: "basic-39"}, period="2026-03").rated
    both = rate(pl.DataFrame(rows), CATALOG, {A: "basic-39", plus: "basic-39"}, period="2026-03").rated
    assert both.filter(pl.col("msisdn") == A).drop("msisdn").equals(one.drop("msisdn"))
    assert both.filter(pl.col("msisdn") == plus).drop("msisdn", "record_id").equals(one.drop("msisdn", "record_id"))
    assert one["allowance_id"].drop_nulls().len() > 0


def test_no_rule_is_reported() -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    from fairtel.catalog import parse_catalog

    catalog, _ = parse_catalog(text.replace('rule_sets = ["home-incoming", "international", "roaming"]\n\n[[plans.rules]]\nid = "payg/',
                                            'rule_sets = ["home-incoming", "international"]\n\n[[plans.rules]]\nid = "payg/'))
    assert catalog is not None
    res = rate(pl.DataFrame([rec("hk", "sms", roaming_country="HK")]), catalog, {A: "payg"}, period="2026-03")
    assert res.unrated["reason"].to_list() == [UnratedReason.NO_RULE]


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="column missing"):
        rate(pl.DataFrame({"record_id": ["x"]}), CATALOG, {A: "payg"}, period="2026-03")
    naive = pl.DataFrame([rec("v", "voice", duration_s=1)]).with_columns(pl.col("started_at").dt.replace_time_zone(None))
    with pytest.raises(InvalidInputError, match="time-zone-aware"):
        rate(naive, CATALOG, {A: "payg"}, period="2026-03")
    with pytest.raises(InvalidInputError, match="listed twice"):
        rate(pl.DataFrame([rec("v", "voice", duration_s=1)]), CATALOG,
             pl.DataFrame({"msisdn": [A, A], "plan_id": ["payg", "basic-39"]}), period="2026-03")
