"""``rate`` with a plan history (``effective_from``): each line is rated under its plan in force for the period;
without the column, as before."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.core.time import Period
from fairtel.rating import normalise_subscribers, rate

CATALOG = load_catalog(default_catalog_path())
A, B, C = "8613800000001", "8613800000002", "8613800000003"
APRIL_START = datetime(2026, 3, 31, 16, tzinfo=UTC)  # 2026-04 on the catalog's clock (Asia/Shanghai)


def calls(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame({
        "record_id": [r[0] for r in rows], "source": ["sw1"] * len(rows), "msisdn": [r[1] for r in rows],
        "kind": ["voice"] * len(rows), "direction": ["out"] * len(rows), "started_at": [r[2] for r in rows],
        "duration_s": [600] * len(rows), "peer": ["8613912345678"] * len(rows),
    }, schema_overrides={"started_at": pl.Datetime("us", "UTC")})


def history(rows: list[tuple[str, str, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "plan_id": [r[1] for r in rows],
                         "effective_from": [r[2] for r in rows]},
                        schema={"msisdn": pl.String(), "plan_id": pl.String(), "effective_from": pl.Datetime("us", "UTC")})


PLANS = history([
    (A, "basic-39", datetime(2025, 1, 1, tzinfo=UTC)), (A, "payg", APRIL_START),  # changed in March, from April
    (B, "payg", None),  # no known start: always
    (C, "senior-19", datetime(2026, 3, 16, 4, tzinfo=UTC)), (C, "payg", APRIL_START),  # activated mid-March
])


def test_each_line_is_rated_under_its_plan_in_force_for_the_period() -> None:
    march = calls(("m1", A, datetime(2026, 3, 5, 2, tzinfo=UTC)), ("m2", B, datetime(2026, 3, 5, 2, tzinfo=UTC)),
                  ("m3", C, datetime(2026, 3, 20, 2, tzinfo=UTC)))
    april = calls(("a1", A, datetime(2026, 4, 7, 2, tzinfo=UTC)), ("a3", C, datetime(2026, 4, 7, 2, tzinfo=UTC)))
    got = rate(march, CATALOG, PLANS, period="2026-03").rated
    assert dict(got.select("record_id", "plan_id").iter_rows()) == {"m1": "basic-39", "m2": "payg", "m3": "senior-19"}
    # the very lines of rating with the plans in force given as a plain register
    plain = rate(march, CATALOG, {A: "basic-39", B: "payg", C: "senior-19"}, period="2026-03").rated
    assert_frame_equal(got, plain)
    got = rate(april, CATALOG, PLANS, period="2026-04").rated
    assert dict(got.select("record_id", "plan_id").iter_rows()) == {"a1": "payg", "a3": "payg"}


def test_the_history_is_kept_whole_without_a_period_and_picked_with_one() -> None:
    whole = normalise_subscribers(PLANS)
    assert whole.columns == ["msisdn", "plan_id", "effective_from"] and whole.height == 5
    picked = normalise_subscribers(PLANS, period=Period.parse("2026-03"))
    assert picked.rows() == [(A, "basic-39"), (B, "payg"), (C, "senior-19")]
    assert normalise_subscribers(PLANS, period=Period.parse("2026-04")).rows() == [(A, "payg"), (B, "payg"), (C, "payg")]
    # without the column: as before, whatever the period
    plain = pl.DataFrame({"msisdn": [A, B], "plan_id": ["basic-39", "payg"]})
    assert_frame_equal(normalise_subscribers(plain, period=Period.parse("2026-04")), plain)


def test_a_history_that_says_two_plans_at_once_or_has_naive_instants_is_refused() -> None:
    twice = history([(A, "basic-39", APRIL_START), (A, "payg", APRIL_START)])
    with pytest.raises(InvalidInputError, match=A):
        normalise_subscribers(twice, period=Period.parse("2026-04"))
    naive = PLANS.with_columns(pl.col("effective_from").dt.replace_time_zone(None))
    with pytest.raises(InvalidInputError, match="effective_from"):
        normalise_subscribers(naive)
