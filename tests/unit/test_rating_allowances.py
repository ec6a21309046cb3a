"""Allowances: consumed in time order per subscriber, a record crossing the end is split, state carries over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
CATALOG = load_catalog(default_catalog_path())


def rec(rid: str, kind: str, day: int, hour: int, msisdn: str = A, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"record_id": rid, "source": "t", "msisdn": msisdn, "kind": kind, "direction": "out",
                            "started_at": datetime(2026, 3, day, hour, 0, tzinfo=CN).astimezone(UTC),
                            "peer": "8613912345678", "duration_s": None, "bytes_up": None, "bytes_down": None}
    return base | kw


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows))


def test_call_crossing_the_end_of_the_allowance_is_split() -> None:
    # senior-19: 100 minutes. 99 minutes, then a 150 s call: 1 minute from the allowance, 2 minutes charged
    res = rate(frame(rec("a", "voice", 2, 10, duration_s=99 * 60), rec("b", "voice", 3, 10, duration_s=150)),
               CATALOG, {A: "senior-19"}, period="2026-03")
    b = res.rated.filter(pl.col("record_id") == "b").sort("line").to_dicts()
    assert [(x["allowance_id"], x["allowance_before"], x["allowance_used"], x["charged_quantity"], x["quantity"],
             x["amount_minor"]) for x in b] == [
        ("senior-19/voice", 5940, 60, 0, 60, 0),
        (None, None, 0, 120, 90, 30),  # 90 s left, billed as 2 minutes at 0.15
    ]
    assert sum(x["quantity"] for x in b) == 150
    state = dict(zip(res.closing_state["counter"], res.closing_state["used"], strict=True))
    assert state == {"senior-19/voice": 6000}


def test_consumed_in_time_order_not_input_order() -> None:
    early = rec("early", "voice", 2, 10, duration_s=100 * 60)
    late = rec("late", "voice", 5, 10, duration_s=60)
    for rows in ((early, late), (late, early)):
        res = rate(frame(*rows), CATALOG, {A: "senior-19"}, period="2026-03")
        got = {r["record_id"]: r["amount_minor"] for r in res.rated.to_dicts()}
        assert got == {"early": 0, "late": 15}


def test_allowances_are_per_subscriber() -> None:
    rows = [rec("a1", "voice", 2, 10, duration_s=100 * 60), rec("b1", "voice", 2, 11, msisdn=B, duration_s=60)]
    res = rate(frame(*rows), CATALOG, {A: "senior-19", B: "senior-19"}, period="2026-03")
    assert res.rated["amount_minor"].to_list() == [0, 0]


def test_allowance_conditions_international_calls_draw_nothing() -> None:
    res = rate(frame(rec("x", "voice", 2, 10, duration_s=60, peer="85261234567")), CATALOG, {A: "basic-39"},
               period="2026-03")
    row = res.rated.row(0, named=True)
    assert row["allowance_id"] is None and row["rule_id"] == "intl/voice-intl-1" and row["amount_minor"] == 150


def test_voice_draws_what_its_rate_would_bill() -> None:
    res = rate(frame(rec("x", "voice", 2, 10, duration_s=61)), CATALOG, {A: "basic-39"}, period="2026-03")
    assert res.rated["allowance_used"].to_list() == [120]


def test_sms_and_data_allowances() -> None:
    rows = [rec(f"s{i}", "sms", 2, 10 + i % 10) for i in range(51)]
    rows.append(rec("d1", "data", 3, 10, bytes_up=0, bytes_down=2 * 1024**3))
    rows.append(rec("d2", "data", 4, 10, bytes_up=512 * 1024**2, bytes_down=512 * 1024**2))
    res = rate(frame(*rows), CATALOG, {A: "senior-19"}, period="2026-03")
    sms = res.rated.filter(pl.col("kind") == "sms")
    assert sms["amount_minor"].sum() == 10  # 50 free messages, the 51st at 0.10
    d2 = res.rated.filter(pl.col("record_id") == "d2")
    assert d2["allowance_id"].to_list() == [None]  # the 2 GiB went on d1
    assert d2["amount_minor"].to_list() == [300]  # 1 GiB at 3.00


def test_opening_state_continues_a_period() -> None:
    first = frame(rec("a", "voice", 2, 10, duration_s=99 * 60))
    later = frame(rec("b", "voice", 3, 10, duration_s=150))
    one = rate(first, CATALOG, {A: "senior-19"}, period="2026-03")
    two = rate(later, CATALOG, {A: "senior-19"}, period="2026-03", opening_state=one.closing_state)
    whole = rate(pl.concat([first, later]), CATALOG, {A: "senior-19"}, period="2026-03")
    assert two.rated.drop("line").equals(whole.rated.filter(pl.col("record_id") == "b").drop("line"))
    assert two.closing_state.equals(whole.closing_state)


def test_without_allowances_everything_is_priced() -> None:
    res = rate(frame(rec("x", "voice", 2, 10, duration_s=61)), CATALOG, {A: "basic-39"}, period="2026-03",
               allowances=False)
    assert res.rated["amount_minor"].to_list() == [30]
    assert res.closing_state.height == 0


def test_records_outside_the_period_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="outside period 2026-04"):
        rate(frame(rec("x", "voice", 31, 10, duration_s=61)), CATALOG, {A: "basic-39"}, period="2026-04")
    # 1 April 00:30 in Shanghai is still 31 March in UTC: the period is read on the operator's clock
    late = rec("y", "voice", 31, 10, duration_s=61) | {
        "started_at": datetime(2026, 4, 1, 0, 30, tzinfo=CN).astimezone(UTC)}
    assert rate(frame(late), CATALOG, {A: "basic-39"}, period="2026-04").rated.height == 1
