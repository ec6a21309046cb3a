"""The optimised rating kernel gives exactly the lines of the straightforward one it replaced
(``_rating_reference.py``: the first vectorised kernel, kept verbatim), on randomised usage that exercises ties,
band cuts, allowance ends, odd directions, non-numeric numbers and opening state; and the bucket reader of
``fairtel rate`` splits a period exactly as filtering every file by bucket does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import _rating_reference as reference
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.engines._buckets import read_bucket, split_file
from fairtel.rating import rate

CATALOG = load_catalog(default_catalog_path())
PLANS = ("basic-39", "unlimited-129", "payg", "senior-19", "gone-plan")
PEERS = ("8613912345678", "85261234567", "12025550100", "2393123456", "2391234567", "4420123456", "0000", "8",
         "+8613912345678", None)
COUNTRIES = (None, None, None, None, "", "HK", "hk", "JP", "US", "ZZ")
DIRECTIONS = ("out", "out", "in", None)
START_US = int(datetime(2026, 2, 28, 16, tzinfo=UTC).timestamp()) * 1_000_000


def usage(seed: int, n: int, subscribers: list[str], odd_direction: bool) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["voice", "voice", "sms", "data", "vas", "fax"], size=n)
    # few distinct start seconds, so that records of one subscriber often start together (ties)
    starts = START_US + rng.integers(0, 31 * 86400 - 1, size=n // 4 + 1)[rng.integers(0, n // 4 + 1, size=n)] * 1_000_000
    directions = list(DIRECTIONS) + (["OUT"] if odd_direction else [])
    talk = np.isin(kinds, ["voice", "sms"])
    return pl.DataFrame({
        "record_id": [f"r{i}" for i in rng.permutation(n)],
        "source": rng.choice(["sw1", "sw2"], size=n),
        "msisdn": rng.choice(subscribers, size=n),
        "kind": kinds,
        "direction": [d if t else None for d, t in zip(rng.choice(np.array(directions, dtype=object), size=n).tolist(), talk, strict=True)],
        "started_at": pl.Series(starts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "duration_s": [int(x) if k == "voice" else None for x, k in zip(rng.exponential(900, size=n), kinds, strict=True)],
        "bytes_up": [int(x) if k == "data" else None for x, k in zip(rng.lognormal(16, 2, size=n), kinds, strict=True)],
        "bytes_down": [int(x) if k == "data" else None for x, k in zip(rng.lognormal(19, 2, size=n), kinds, strict=True)],
        "peer": [p if t else None for p, t in zip(rng.choice(np.array(PEERS, dtype=object), size=n).tolist(), talk, strict=True)],
        "offer_id": [o if k == "vas" else None for o, k in zip(rng.choice(["vas-music-10", "vas-horoscope-6"], size=n), kinds, strict=True)],
        "amount_minor": [1000 if k == "vas" else None for k in kinds],
        "currency": ["CNY" if k == "vas" else None for k in kinds],
        "roaming_country": rng.choice(np.array(COUNTRIES, dtype=object), size=n).tolist(),
    }, schema_overrides={"peer": pl.String(), "roaming_country": pl.String(), "direction": pl.String()})


def assert_same(data: pl.DataFrame, subs: dict[str, str], **kw: object) -> None:
    fast = rate(data, CATALOG, subs, period="2026-03", **kw)  # type: ignore[arg-type]
    slow = reference.rate(data, CATALOG, subs, period="2026-03", **kw)  # type: ignore[arg-type]
    assert fast.rated.height > 0
    assert_frame_equal(fast.rated, slow.rated)  # same lines, same values, same order
    assert_frame_equal(fast.unrated, slow.unrated)
    assert_frame_equal(fast.closing_state, slow.closing_state)
    # a register listing many more subscribers (one not plain digits) rates the same lines; without the
    # closing state (as the engines rate a bucket) the lines are the same too
    wide = {**{str(8613700000000 + i): "payg" for i in range(200)}, "+8613700000000": "basic-39", **subs}
    lean = rate(data, CATALOG, wide, period="2026-03", closing_state=False, **kw)  # type: ignore[arg-type]
    assert_frame_equal(lean.rated, fast.rated)
    assert_frame_equal(lean.unrated, fast.unrated)
    assert lean.closing_state.height == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_lines_as_the_reference_kernel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    numbers = [str(8613800000000 + i) for i in rng.choice(10**6, size=12, replace=False)]
    subs = {m: str(rng.choice(PLANS)) for m in numbers}
    data = usage(seed, 3000, [*numbers, "8613899999999"], odd_direction=seed == 3)
    assert_same(data, subs)
    # allowances partly used before this batch, and a daily cap already reached
    opening = pl.DataFrame({
        "msisdn": numbers[:4],
        "counter": ["basic-39/voice", "unlimited-129/data", "senior-19/sms", "cap:payg/voice-domestic:2026-03-05"],
        "used": [17000, 40 * 1024**3, 49, 10_000],
    })
    assert_same(data, subs, opening_state=opening)


def test_same_lines_with_non_numeric_numbers() -> None:
    numbers = ["8613800000001", "+8613800000002", "08613800000003", "86138000000040", "abc"]
    subs = dict(zip(numbers, ["basic-39", "payg", "senior-19", "unlimited-129", "payg"], strict=True))
    assert_same(usage(7, 1500, numbers, odd_direction=False), subs)
    assert_same(usage(8, 1500, numbers, odd_direction=False), subs, allowances=False)
    # no allowance slot at all, and counters carried in: the closing state still adds them up
    opening = pl.DataFrame({"msisdn": numbers[:2], "counter": ["basic-39/voice", "cap:payg/voice-domestic:2026-03-05"],
                            "used": [600, 10_000]})
    assert_same(usage(9, 1500, numbers, odd_direction=False), subs, allowances=False, opening_state=opening)


@pytest.mark.parametrize("buckets", [1, 2, 7])
def test_bucket_split_like_a_filter(tmp_path: Path, buckets: int) -> None:
    files = []
    for i in range(3):
        part = usage(10 + i, 400, [str(8613800000000 + k) for k in range(50)], odd_direction=False)
        if i == 1:
            part = part.drop("roaming_country")  # an older file without an optional column
        files.append(tmp_path / f"part-{i}.parquet")
        part.write_parquet(files[-1])
    columns = ("record_id", "msisdn", "kind", "started_at", "roaming_country")
    spill = tmp_path / "spill"
    pieces: list[list[Path]] = [[] for _ in range(buckets)]
    for i, f in enumerate(files):
        for b, piece in split_file(f, i, buckets, columns, spill):
            pieces[b].append(piece)
    got = [read_bucket(p, columns) for p in pieces]
    whole = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed").select(columns)
    for b, frame in enumerate(got):
        want = whole.filter(pl.col("msisdn").hash(seed=7) % buckets == b)
        assert frame.height > 0
        assert_frame_equal(frame.select(columns).sort("record_id", "msisdn"), want.sort("record_id", "msisdn"))
    assert sum(f.height for f in got) == whole.height


@pytest.mark.parametrize("seed", [4, 5])
def test_counters_recovered_from_rated_lines_equal_the_closing_state(seed: int) -> None:
    from fairtel.rating import state_from_rated

    rng = np.random.default_rng(seed)
    numbers = [str(8613800000000 + i) for i in rng.choice(10**6, size=15, replace=False)]
    subs = {m: str(rng.choice(PLANS[:4])) for m in numbers}
    res = rate(usage(seed, 4000, numbers, odd_direction=False), CATALOG, subs, period="2026-03")
    state = res.closing_state.filter(pl.col("used") > 0).sort("msisdn", "counter")
    assert state.filter(pl.col("counter").str.starts_with("cap:")).height > 0  # daily caps are among them
    assert_frame_equal(state_from_rated(res.rated, CATALOG), state)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 6)), st.integers(0, 10**6)), max_size=300),
       st.booleans())
def test_running_sums_equal_the_window(rows: list[tuple[int | None, int]], huge: bool) -> None:
    """The sort-and-scan running sum equals ``cum_sum().over(group)`` in row order, null groups included; a value
    large enough that a sum kept across groups could overflow takes the window itself."""
    from fairtel.rating._rate import _running_sums

    values = [x for _, x in rows]
    if huge and values:
        values[0] = 2**61  # times two rows or more: past the packed sum's bound
    frame = pl.DataFrame({"g": [g for g, _ in rows], "x": values}, schema={"g": pl.Int64(), "x": pl.Int64()})
    want = frame.select(pl.col("x").cum_sum().over("g"))["x"] if rows else pl.Series("x", [], dtype=pl.Int64)
    assert _running_sums(frame, "x", pl.col("g")).to_list() == want.to_list()
