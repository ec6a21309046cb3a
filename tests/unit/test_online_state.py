"""The online rater's counters in memory: which rows a commit's subscribers own, by integer keys when every
number is plain digits and by the strings otherwise, kept aligned with the rows from commit to commit."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from fairtel.engines._online import ARRIVAL, _by_period, _Numbers, _PeriodState, numeric_keys
from fairtel.rating import STATE_COLUMNS


def state(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=STATE_COLUMNS, orient="row")


def test_numeric_keys_only_when_the_integer_gives_the_number_back() -> None:
    assert numeric_keys(pl.Series(["8613800000001", "86"])).to_list() == [8613800000001, 86]  # type: ignore[union-attr]
    assert numeric_keys(pl.Series(["8613800000001", "08613800000001"])) is None
    assert numeric_keys(pl.Series(["8613800000001", "+8613800000001"])) is None
    assert numeric_keys(pl.Series([], dtype=pl.String)) is not None


def test_touched_rows_and_the_state_after_a_commit() -> None:
    for numbers in (["8613800000001", "8613800000002", "8613800000003"],
                    ["8613800000001", "+8613800000002", "abc"]):  # integer keys, then the strings
        a, b, c = numbers
        before = _PeriodState.of(state([(a, "basic-39/voice", 60), (b, "basic-39/voice", 120), (b, "cap:x:2026-03-01", 5),
                                     (c, "senior-19/sms", 3)]))
        assert (before.keys is not None) == (numbers[1][0] != "+")
        touched = before.touched(_Numbers(pl.Series([b, "8613899999999", "+1", b])))
        assert touched.to_list() == [False, True, True, False]
        delta = state([(b, "basic-39/voice", 180), (b, "cap:x:2026-03-01", 5), ("8613899999999", "payg/x", 1)])
        after, whole = before.after(~touched, delta)
        assert whole  # no snapshot on disk yet: the first commit writes one
        assert_frame_equal(after.frame, pl.concat([before.frame.filter(~touched), delta]))
        # the keys stay aligned with the rows: the next commit finds the new rows and the old ones
        assert after.touched(_Numbers(pl.Series(["8613899999999", a]))).to_list() == [True, False, False, False, True]


def test_records_split_by_period_on_the_catalog_clock() -> None:
    t = pl.Series(["2026-03-31T15:59:59Z", "2026-03-31T16:00:00Z", "2026-03-10T00:00:00Z"]).str.to_datetime(
        time_unit="us", time_zone="UTC")
    usage = pl.DataFrame({"msisdn": ["1", "2", "3"], "started_at": t, ARRIVAL: [0, 0, 1]})
    frames, counts = _by_period(usage, "Asia/Shanghai")  # 16:00 UTC on the 31st is April in Shanghai
    assert [(p, f["msisdn"].to_list()) for p, f in frames] == [("2026-03", ["1", "3"]), ("2026-04", ["2"])]
    assert counts == [(0, "2026-03", 1), (0, "2026-04", 1), (1, "2026-03", 1)]
    frames, counts = _by_period(usage.head(1).vstack(usage.tail(1)), "Asia/Shanghai")  # one period: as it came
    assert [(p, f.height) for p, f in frames] == [("2026-03", 2)] and counts == [(0, "2026-03", 1), (1, "2026-03", 1)]
