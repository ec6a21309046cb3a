"""The key index's internals against plain references: the packed sort, the Bloom filters and ``seen`` over
batches that spill, start new filters and repeat keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fairtel.mediation import _keys
from fairtel.mediation._keys import KeyIndex, _Bloom, _bloom_bits, _sorted_h1, _sorted_keys, key_hashes, single_value


def reference_order(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(h1)), h2, h1))


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 70_000])
def test_sorted_keys_match_a_lexsort(n: int) -> None:
    rng = np.random.default_rng(n)
    h1 = rng.integers(0, 2**64, n, dtype=np.uint64)
    h2 = rng.integers(0, 2**64, n, dtype=np.uint64)
    if n > 3:  # repeats, equal h1 with other h2, and keys apart only in the low bits the packed sort drops
        h1[: n // 10] = h1[n // 10 : 2 * (n // 10)]
        h2[: n // 20] = h2[n // 10 : n // 10 + n // 20]
        h1[-50:] = (h1[-50:] & ~np.uint64(0xFFFFFFFF)) | np.uint64(0x1234) | np.arange(50, dtype=np.uint64)[::-1]
        h1[-100:-50] = h1[-50:] & ~np.uint64(0xFF)
    out = np.empty((2, n), dtype=np.uint64)
    order = _sorted_keys(h1, h2, out)
    ref = reference_order(h1, h2)
    assert (order == ref).all()
    assert (out[0] == h1[ref]).all() and (out[1] == h2[ref]).all()


@pytest.mark.parametrize("n", [2, 1000, 70_000])
def test_sorted_runs_match_a_lexsort(n: int) -> None:
    """Sorted runs end to end (a spill, a merge range) with keys apart only in the low bits, in runs of
    several such keys, some in the highest run of high bits."""
    rng = np.random.default_rng(n + 1)
    h1 = rng.integers(0, 2**64, n, dtype=np.uint64)
    near = rng.integers(0, n, max(2, n // 50))
    h1[near[: len(near) // 2]] = (h1[near[0]] & ~np.uint64(0xFFFFF)) | rng.integers(0, 0xFFFFF, len(near) // 2,
                                                                                   dtype=np.uint64)
    h1[near[len(near) // 2 :]] = np.uint64(2**64 - 1) - rng.integers(0, 0xFFF, len(near) - len(near) // 2,
                                                                      dtype=np.uint64)
    row = np.concatenate([np.sort(part) for part in np.array_split(h1, 5)])
    order, s1 = _sorted_h1(row)
    ref = np.lexsort((np.arange(n), row))
    assert (order == ref).all()
    assert (s1 == row[ref]).all()


def test_bloom_has_no_false_negatives() -> None:
    rng = np.random.default_rng(1)
    bloom = _Bloom(50_000)
    h1 = np.sort(rng.integers(0, 2**64, 50_000, dtype=np.uint64))
    h2 = rng.integers(0, 2**64, 50_000, dtype=np.uint64)
    bloom.add(h1[::2], _bloom_bits(h2[::2]))
    bloom.add(h1[1::2][::-1], _bloom_bits(h2[1::2][::-1]))  # out of order: still every bit set
    assert bloom.may_contain(h1, _bloom_bits(h2)).all()
    other = np.sort(rng.integers(0, 2**64, 100_000, dtype=np.uint64))
    fp = bloom.may_contain(other, _bloom_bits(rng.integers(0, 2**64, 100_000, dtype=np.uint64))).mean()
    assert fp < 0.02


@pytest.mark.parametrize("expected", [None, 1, 10**9])
def test_seen_matches_a_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: int | None) -> None:
    """``expected``: the file's expected keys, far too few or too many for the first filter's size."""
    monkeypatch.setattr(_keys, "SPILL_KEYS", 3000)
    monkeypatch.setattr(_keys, "BLOOM_FIRST", 4096)  # several filters per file
    monkeypatch.setattr(_keys, "BLOOM_SMALLEST", 64)
    rng = np.random.default_rng(2)
    universe = rng.integers(0, 2**64, (2, 20_000), dtype=np.uint64)
    committed: list[str] = []
    known: set[tuple[int, int]] = set()
    for f in range(3):
        k = KeyIndex(tmp_path, committed, durable=False)
        k.begin(f"f{f}", expected_keys=expected)
        for _ in range(6):
            pick = rng.integers(0, universe.shape[1], 1500)
            h1, h2 = universe[0, pick], universe[1, pick]
            expect = []
            for a, b in zip(h1.tolist(), h2.tolist(), strict=True):
                expect.append((a, b) in known)
                known.add((a, b))
            assert k.seen(h1, h2).tolist() == expect
        first = k._blooms[0].capacity  # as configured, or (expecting fewer keys) for the first batch's new keys
        assert first == 4096 if expected != 1 else first <= 2048
        committed += [name for name, _ in k.finish()]
        k.adopt()
    assert sum(int(np.load(tmp_path / n).shape[1]) for n in committed) == len(known)
    for name in committed:
        seg = np.load(tmp_path / name)
        assert (seg[0][1:] >= seg[0][:-1]).all()


@pytest.mark.parametrize("range_keys", [64, 1 << 21])
def test_merge_in_many_ranges_is_the_sorted_union(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, range_keys: int) -> None:
    """In many key ranges, or in one (inputs that fit in one range)."""
    monkeypatch.setattr(_keys, "MERGE_RANGE_KEYS", range_keys)
    rng = np.random.default_rng(4)
    paths, union = [], []
    for i, n in enumerate([0, 1, 700, 1500]):
        seg = rng.integers(0, 2**64, (2, n), dtype=np.uint64)
        seg = seg[:, np.argsort(seg[0], kind="stable")]
        union.append(seg)
        p = tmp_path / f"s{i}.npy"
        _keys.write_segment(p, seg, durable=False)
        paths.append(p)
    total = _keys.merge_segments(paths, tmp_path / "m.npy", durable=False)
    merged = np.load(tmp_path / "m.npy")
    both = np.concatenate(union, axis=1)
    assert total == both.shape[1] == merged.shape[1]
    assert (merged[0][1:] >= merged[0][:-1]).all()
    assert sorted(zip(merged[0].tolist(), merged[1].tolist(), strict=True)) == sorted(
        zip(both[0].tolist(), both[1].tolist(), strict=True))


def test_hashing_in_slices_and_by_feed_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = pa.array([f"id-{i}" * (1 + i % 5) for i in range(3000)])
    one = pa.array(["sw1"] * 3000)
    mixed = pa.array(["sw1", "sw2", "sw1"] * 1000)
    whole = [key_hashes(one, ids), key_hashes(mixed, ids)]
    monkeypatch.setattr(_keys, "HASH_CHUNK", 7)
    sliced = [key_hashes(one, ids), key_hashes(mixed, ids)]
    for (a1, a2), (b1, b2) in zip(whole, sliced, strict=True):
        assert (a1 == b1).all() and (a2 == b2).all()
    alone = key_hashes(pa.array(["sw2"]), pa.array([ids[1].as_py()]))
    assert int(alone[0][0]) == int(whole[1][0][1]) and int(alone[1][0]) == int(whole[1][1][1])


def test_single_value() -> None:
    assert single_value(pa.array(["a", "a"])) == "a"
    assert single_value(pa.array(["ab", "ba"])) is None
    assert single_value(pa.array(["a", "aa"])) is None
    assert single_value(pa.array(["a", None])) is None
    assert single_value(pa.array(["", ""])) is None
    assert single_value(pa.array(["x", "a", "a"]).slice(1)) == "a"
