"""Rating several files in one call, ordered by arrival, equals rating them one call each in that order with the
counters carried from call to call: the online rater may take whatever files are waiting together without
changing a single line or counter."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_rating_fast import CATALOG, PLANS, usage

from fairtel.consent import parse_consent_lines, project_subscriptions
from fairtel.core.errors import InvalidInputError
from fairtel.rating import STATE_COLUMNS, VasGate, consent_gate, no_gate, rate

ORDER = ["source", "record_id", "line"]


def one_by_one(files: list[pl.DataFrame], subs: dict[str, str], opening: pl.DataFrame,
               gate: VasGate) -> tuple[pl.DataFrame, ...]:
    state = opening
    rated, unrated = [], []
    for f in files:
        res = rate(f, CATALOG, subs, period="2026-03", opening_state=state, gate=gate)
        # the closing state names every counter of the subscribers in the file; the others carry over
        state = pl.concat([state.join(res.closing_state.select("msisdn").unique(), on="msisdn", how="anti"),
                           res.closing_state])
        rated.append(res.rated)
        unrated.append(res.unrated)
    return pl.concat(rated).sort(ORDER), pl.concat(unrated).sort("source", "record_id"), state.sort("msisdn", "counter")


@pytest.mark.parametrize(("seed", "numeric"), [(1, True), (2, True), (3, False), (4, True)])
def test_files_rated_together_equal_files_rated_in_turn(seed: int, numeric: bool) -> None:
    rng = np.random.default_rng(seed)
    numbers = [str(8613800000000 + i) for i in rng.choice(10**6, size=8, replace=False)]
    if not numeric:
        numbers[0] = "+" + numbers[0]
    subs = {m: str(rng.choice(PLANS[:4])) for m in numbers}
    data = usage(seed, 2400, numbers, odd_direction=False)
    # files cut at random, not in time order: a later file holds calls that started before an earlier file's
    nfiles = 5
    data = data.with_columns(pl.Series("_file", rng.integers(0, nfiles, size=data.height)))
    files = [data.filter(pl.col("_file") == k).drop("_file") for k in range(nfiles)]
    opening = pl.DataFrame({"msisdn": numbers[:2], "counter": ["basic-39/voice", "cap:payg/voice-domestic:2026-03-05"],
                            "used": [15000, 9_000]}, schema=STATE_COLUMNS)
    # every subscriber confirmed the monthly music offer: its charges sent again in later files are duplicates
    at = datetime(2026, 2, 1, tzinfo=UTC)
    events = [json.dumps({"event": e, "subscription_id": f"s{i}", "msisdn": m, "offer_id": "vas-music-10",
                          "at": at.isoformat(), "channel": "sms"}) for i, m in enumerate(numbers)
              for e in ("ordered", "confirmed")]
    gate = consent_gate(project_subscriptions(parse_consent_lines(events).events), CATALOG)
    want_rated, want_unrated, want_state = one_by_one(files, subs, opening, gate)
    assert want_rated.filter(pl.col("allowance_id").is_not_null()).height > 0
    verdicts = want_rated["verdict"].value_counts()
    assert {"consented", "duplicate_charge"} <= set(verdicts["verdict"].to_list())

    together = rate(data.sample(fraction=1.0, shuffle=True, seed=seed), CATALOG, subs, period="2026-03",
                    opening_state=opening, arrival="_file", gate=gate)
    state = pl.concat([opening.join(together.closing_state.select("msisdn").unique(), on="msisdn", how="anti"),
                       together.closing_state]).sort("msisdn", "counter")
    assert_frame_equal(together.rated.sort(ORDER), want_rated)
    assert_frame_equal(together.unrated.sort("source", "record_id"), want_unrated)
    assert_frame_equal(state, want_state)
    # the order matters: the same records in one call by time alone draw the allowances otherwise
    by_time = rate(data, CATALOG, subs, period="2026-03", opening_state=opening, gate=gate)
    assert not by_time.rated.sort(ORDER).equals(want_rated)


def test_arrival_must_be_a_non_negative_integer() -> None:
    data = usage(5, 50, ["8613800000001"], odd_direction=False)
    with pytest.raises(InvalidInputError, match="arrival"):
        rate(data.with_columns(pl.lit(-1).alias("_file")), CATALOG, {"8613800000001": "payg"}, period="2026-03",
             arrival="_file")
    with pytest.raises(InvalidInputError, match=r"_file\]: column missing"):
        rate(data, CATALOG, {"8613800000001": "payg"}, period="2026-03", arrival="_file")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), nfiles=st.integers(2, 6), cuts=st.lists(st.booleans(), min_size=5, max_size=5))
def test_any_grouping_of_files_into_calls_rates_alike(seed: int, nfiles: int, cuts: list[bool]) -> None:
    """Files cut from a month at random, rated in consecutive groups (each group one call, ordered by arrival,
    counters carried from group to group): every grouping gives the lines and counters of one call per file."""
    rng = np.random.default_rng(seed)
    numbers = [str(8613800000000 + i) for i in rng.choice(10**6, size=6, replace=False)]
    subs = {m: str(rng.choice(PLANS[:4])) for m in numbers}
    data = usage(seed, 600, numbers, odd_direction=False)
    data = data.with_columns(pl.Series("_file", rng.integers(0, nfiles, size=data.height)))
    files = [data.filter(pl.col("_file") == k).drop("_file") for k in range(nfiles)]
    opening = pl.DataFrame(schema=STATE_COLUMNS)
    want_rated, want_unrated, want_state = one_by_one(files, subs, opening, no_gate)

    groups, start = [], 0
    for k in range(1, nfiles):
        if cuts[k - 1]:
            groups.append(range(start, k))
            start = k
    groups.append(range(start, nfiles))
    state, rated, unrated = opening, [], []
    for g in groups:
        part = data.filter(pl.col("_file").is_in(list(g))).with_columns(pl.col("_file") - g.start)
        res = rate(part, CATALOG, subs, period="2026-03", opening_state=state, arrival="_file")
        state = pl.concat([state.join(res.closing_state.select("msisdn").unique(), on="msisdn", how="anti"),
                           res.closing_state])
        rated.append(res.rated)
        unrated.append(res.unrated)
    assert_frame_equal(pl.concat(rated).sort(ORDER), want_rated)
    assert_frame_equal(pl.concat(unrated).sort("source", "record_id"), want_unrated)
    assert_frame_equal(state.sort("msisdn", "counter"), want_state)
