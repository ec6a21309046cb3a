"""Dedup keys at scale: (source, record_id) -> a 128-bit hash, kept in sorted, memory-mapped segments.

A key is two 64-bit words computed vectorised over Arrow string buffers (a fixed, documented mix, so the
same key hashes the same in every version of fairtel and of its libraries). Segments are ``.npy`` arrays of
shape (2, n), sorted by (h1, h2), written once and never changed; the mediation state database lists the
committed ones, so a segment becomes part of the index in the same transaction as the file it came from.
Lookups are a binary search per segment on the memory map (only the h1 row is touched, h2 only on a hit);
segments of similar size are merged in the background of a commit, range by range, in bounded memory.

Within one file the new keys collect in memory as sorted runs (merged like a binary counter) and spill to a
segment file past ``SPILL_KEYS``; at the end of the file they become that file's segments.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPILL_KEYS = 8_000_000
RELEASE_EVERY = 4  # batches between releasing mapped key pages from the resident set
MERGE_FANIN = 2
_BASE_LEVEL = 1 << 16
_RANGES = 16

_U = np.uint64
_C1, _C2 = _U(0xFF51AFD7ED558CCD), _U(0xC4CEB9FE1A85EC53)
_K1, _K2 = _U(0x9E3779B97F4A7C15), _U(0xD6E8FEB86659FD93)
_S1, _S2 = _U(0x243F6A8885A308D3), _U(0x13198A2E03707344)
_R33 = _U(33)
_R29 = _U(29)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a bijection with full avalanche."""
    h = h ^ (h >> _R33)
    h = h * _C1
    h = h ^ (h >> _R33)
    h = h * _C2
    return h ^ (h >> _R33)


def _words(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(n, w) uint64 words of each string zero-padded to a common multiple of 8 bytes, and the byte lengths."""
    n = len(arr)
    if arr.null_count:
        arr = arr.fill_null("")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    lengths = np.diff(offsets).astype(np.int64)
    longest = int(lengths.max(initial=0))
    width = max(8, -(-longest // 8) * 8)
    data_buf = arr.buffers()[2]
    data = (np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]] if data_buf is not None
            else np.zeros(0, dtype=np.uint8))
    if n and (lengths == longest).all():  # fixed-width ids (uuids, counters): no padding pass
        fixed = data.reshape(n, longest)
        if longest == width:
            return np.ascontiguousarray(fixed).view("<u8"), lengths
        flat = np.zeros((n, width), dtype=np.uint8)
        flat[:, :longest] = fixed
        return flat.view("<u8"), lengths
    if not (data >= 0x80).any():
        padded = pc.utf8_rpad(arr, width, "\x00")
        buf = padded.buffers()[2]
        flat = np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=padded.offset * width)
    else:  # multi-byte characters: pad by bytes, not by characters
        flat = np.frombuffer(b"".join((s or "").encode("utf-8").ljust(width, b"\x00") for s in arr.to_pylist()),
                             dtype=np.uint8)
    return flat.reshape(n, width).view("<u8"), lengths


def _hash_words(words: np.ndarray, lengths: np.ndarray, seed: np.uint64, k: np.uint64) -> np.ndarray:
    """Mixes each string's own words only, so a key hashes the same whatever else is in its batch. Each step
    (xor the word, multiply by an odd constant, xor-shift) is a bijection of the state, so two keys that
    differ in one word always differ after it; the finaliser spreads every bit."""
    h = (lengths.astype(np.uint64) + seed) * k
    for j in range(words.shape[1]):
        mixed = (h ^ words[:, j]) * k
        mixed ^= mixed >> _R29
        h = mixed if j == 0 else np.where(lengths > 8 * j, mixed, h)
    return _fmix(h)


def _source_hash(name: str) -> tuple[int, int]:
    d = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")


def key_hashes(source: pa.Array, record_id: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """128-bit keys of (source, record_id) as two uint64 arrays; neither column may hold nulls."""
    if isinstance(source, pa.ChunkedArray):
        source = source.combine_chunks()
    if isinstance(record_id, pa.ChunkedArray):
        record_id = record_id.combine_chunks()
    n = len(record_id)
    if n == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
    words, lengths = _words(record_id)
    with np.errstate(over="ignore"):
        h1 = _hash_words(words, lengths, _S1, _K1)
        h2 = _hash_words(words, lengths, _S2, _K2)
        enc = pc.dictionary_encode(source)
        names = enc.dictionary.to_pylist()
        pairs = np.array([_source_hash(s) for s in names], dtype=np.uint64).reshape(len(names), 2)
        idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        h1 = _fmix(h1 ^ pairs[idx, 0])
        h2 = _fmix(h2 ^ pairs[idx, 1])
    return h1, h2


def _merge2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two (2, n) runs sorted by their first row -> one, in linear time."""
    if a.shape[1] == 0:
        return np.asarray(b)
    if b.shape[1] == 0:
        return np.asarray(a)
    at = np.searchsorted(a[0], b[0], side="right") + np.arange(b.shape[1])
    out = np.empty((2, a.shape[1] + b.shape[1]), dtype=np.uint64)
    rest = np.ones(out.shape[1], dtype=bool)
    rest[at] = False
    out[:, at] = b
    out[:, rest] = a
    return out


def _merge_runs(runs: list[np.ndarray]) -> np.ndarray:
    runs = sorted(runs, key=lambda r: r.shape[1])
    while len(runs) > 1:
        a, b = runs.pop(0), runs.pop(0)
        runs.append(_merge2(np.asarray(a), np.asarray(b)))
        runs.sort(key=lambda r: r.shape[1])
    return np.asarray(runs[0]) if runs else np.zeros((2, 0), dtype=np.uint64)


def _contains(seg: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Which queries (q1 ascending for speed) are in the segment ``seg`` (2, m), sorted by its first row."""
    a1 = seg[0]
    m = a1.shape[0]
    if m == 0 or len(q1) == 0:
        return np.zeros(len(q1), dtype=bool)
    idx = np.searchsorted(a1, q1)
    hit = np.zeros(len(q1), dtype=bool)
    cand = np.flatnonzero(idx < m)
    cand = cand[a1[idx[cand]] == q1[cand]]
    if len(cand):
        a2 = seg[1]
        same = a2[idx[cand]] == q2[cand]
        hit[cand[same]] = True
        for c in cand[~same]:  # equal h1, different h2: walk the run of equal h1 (vanishingly rare)
            j = int(idx[c]) + 1
            while j < m and a1[j] == q1[c]:
                if a2[j] == q2[c]:
                    hit[c] = True
                    break
                j += 1
    return hit


def _release(seg: np.ndarray) -> None:
    """Drops a memory-mapped segment's pages from this process's resident set; they stay in the page cache
    and come back on the next touch. Keeps a long ingest's memory bounded by batches, not by keys seen."""
    m = getattr(seg, "_mmap", None)
    if m is not None and hasattr(m, "madvise"):
        m.madvise(mmap.MADV_DONTNEED)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_segment(path: Path, arr: np.ndarray, *, durable: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(arr))
        f.flush()
        if durable:
            os.fsync(f.fileno())
    os.replace(tmp, path)


def _layout(path: Path) -> tuple[int, int]:
    """(byte offset of the data, keys) of a (2, n) uint64 .npy segment."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(f)
        return f.tell(), int(shape[1])


def read_rows(path: Path, row: int, lo: int, hi: int) -> np.ndarray:
    """Keys lo..hi of one row of a segment, read with plain I/O: unlike a memory map, the pages do not stay
    in this process's resident set (merges and rebuilds read every key once)."""
    offset, n = _layout(path)
    return np.fromfile(path, dtype="<u8", count=max(hi - lo, 0), offset=offset + (row * n + lo) * 8)


def merge_segments(paths: list[Path], out: Path, *, durable: bool) -> int:
    """The union of sorted segments written to ``out`` key range by key range, with plain reads and writes,
    so memory stays bounded (one range of every input) whatever the sizes."""
    layouts = [_layout(p) for p in paths]
    total = sum(n for _, n in layouts)
    maps = [np.load(p, mmap_mode="r") for p in paths]  # only to find range bounds (a few pages each)
    bounds = [np.uint64(i << 60) for i in range(_RANGES)]
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<u8", "fortran_order": False, "shape": (2, total)})
        base = f.tell()
        f.truncate(base + 2 * total * 8)
        fd = f.fileno()
        at = 0
        for r in range(_RANGES):
            pieces = []
            for p, m in zip(paths, maps, strict=True):
                lo = int(np.searchsorted(m[0], bounds[r], side="left"))
                hi = int(np.searchsorted(m[0], bounds[r + 1], side="left")) if r + 1 < _RANGES else int(m.shape[1])
                if hi > lo:
                    pieces.append(np.stack([read_rows(p, 0, lo, hi), read_rows(p, 1, lo, hi)]))
            if pieces:
                block = _merge_runs(pieces)
                k = block.shape[1]
                os.pwrite(fd, np.ascontiguousarray(block[0]).tobytes(), base + at * 8)
                os.pwrite(fd, np.ascontiguousarray(block[1]).tobytes(), base + (total + at) * 8)
                at += k
        f.flush()
        if durable:
            os.fsync(fd)
    del maps
    os.replace(tmp, out)
    return total


def size_class(keys: int) -> int:
    return 0 if keys <= _BASE_LEVEL else int(math.log2(keys / _BASE_LEVEL)) + 1


class _Bloom:
    """A blocked Bloom filter over h2: one 64-bit word per key, four bits in it. It only decides which of a
    batch's keys need the exact check against this file's runs; a false positive costs a lookup, never a
    record."""

    BITS_PER_KEY = 12

    def __init__(self, capacity: int) -> None:
        words = max(1 << 12, 1 << math.ceil(math.log2(max(capacity, 1) * self.BITS_PER_KEY / 64)))
        self.words = np.zeros(words, dtype=np.uint64)
        self.mask = np.uint64(words - 1)
        self.capacity = capacity
        self.count = 0

    def _where(self, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        one = np.uint64(1)
        six = np.uint64(63)
        bits = ((one << ((h2 >> np.uint64(40)) & six)) | (one << ((h2 >> np.uint64(46)) & six))
                | (one << ((h2 >> np.uint64(52)) & six)) | (one << ((h2 >> np.uint64(58)) & six)))
        return (h2 & self.mask).astype(np.intp), bits

    def add(self, h2: np.ndarray) -> None:
        idx, bits = self._where(h2)
        np.bitwise_or.at(self.words, idx, bits)
        self.count += len(h2)

    def may_contain(self, h2: np.ndarray) -> np.ndarray:
        idx, bits = self._where(h2)
        return (self.words[idx] & bits) == bits


class KeyIndex:
    """The committed segments plus the keys of the file being ingested."""

    def __init__(self, directory: Path, committed: list[str], *, durable: bool = True) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self.committed = list(committed)
        self._segments: list[np.ndarray] = [self._open(name) for name in committed]
        self._runs: list[np.ndarray] = []
        self._run_keys = 0
        self._spilled: list[tuple[str, np.ndarray]] = []
        self._bloom = _Bloom(1 << 20)
        self._prefix = ""
        self._serial = 0
        self._batches = 0

    def _open(self, name: str) -> np.ndarray:
        return np.load(self.dir / name, mmap_mode="r")

    # --- one file -------------------------------------------------------------------------------------------
    def begin(self, prefix: str) -> None:
        self._runs, self._run_keys, self._spilled = [], 0, []
        self._bloom = _Bloom(1 << 20)
        self._prefix, self._serial = prefix, 0

    def seen(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Marks keys already known (committed, earlier in this file, or earlier in this batch) and adds the
        others to this file's keys. Returns the duplicate mask in input order."""
        n = len(h1)
        if n == 0:
            return np.zeros(0, dtype=bool)
        order = np.argsort(h1)
        s1 = h1[order]
        tie = s1[1:] == s1[:-1]
        if tie.any():  # equal h1 (duplicates, mostly): order those by (h2, position) so the first one wins
            member = np.zeros(n, dtype=bool)
            member[1:] |= tie
            member[:-1] |= tie
            at = np.flatnonzero(member)
            sub = order[at]
            order[at] = sub[np.lexsort((sub, h2[sub], h1[sub]))]
            s1 = h1[order]
        s2 = h2[order]
        again = np.zeros(n, dtype=bool)
        again[1:] = (s1[1:] == s1[:-1]) & (s2[1:] == s2[:-1])
        first = np.flatnonzero(~again)
        q1, q2 = s1[first], s2[first]
        known = np.zeros(len(first), dtype=bool)
        for seg in self._segments:
            todo = np.flatnonzero(~known)
            if len(todo) == 0:
                break
            known[todo] = _contains(seg, q1[todo], q2[todo])
        if self._bloom.count:
            todo = np.flatnonzero(~known)
            cand = todo[self._bloom.may_contain(q2[todo])]
            for seg in [*(s for _, s in self._spilled), *self._runs]:
                if len(cand) == 0:
                    break
                hit = _contains(seg, q1[cand], q2[cand])
                known[cand[hit]] = True
                cand = cand[~hit]
        self._batches += 1
        if self._batches % RELEASE_EVERY == 0:
            for seg in [*self._segments, *(s for _, s in self._spilled)]:
                _release(seg)
        dup_sorted = again
        dup_sorted[first] = known
        fresh = ~known
        if fresh.any():
            self._add(np.stack([q1[fresh], q2[fresh]]))
        dup = np.empty(n, dtype=bool)
        dup[order] = dup_sorted
        return dup

    def _add(self, run: np.ndarray) -> None:
        self._runs.append(run)
        self._run_keys += run.shape[1]
        if self._bloom.count + run.shape[1] > self._bloom.capacity:
            self._grow(4 * (self._bloom.count + run.shape[1]))
        else:
            self._bloom.add(run[1])
        if self._run_keys >= SPILL_KEYS:
            self._spill()

    def _grow(self, capacity: int) -> None:
        bloom = _Bloom(capacity)
        self._bloom = _Bloom(1 << 12)  # let the old one go before the new one fills
        for name, seg in self._spilled:
            for lo in range(0, seg.shape[1], 1 << 22):
                bloom.add(read_rows(self.dir / name, 1, lo, min(lo + (1 << 22), int(seg.shape[1]))))
        for run in self._runs:
            bloom.add(run[1])
        self._bloom = bloom

    def _name(self) -> str:
        self._serial += 1
        return f"{self._prefix}-{self._serial:04d}.npy"

    def _spill(self) -> None:
        if not self._runs:
            return
        both = np.concatenate(self._runs, axis=1)
        merged = both[:, np.argsort(both[0], kind="stable")]  # sorted runs: a merge, not a full sort
        del both
        name = self._name()
        write_segment(self.dir / name, merged, durable=self.durable)
        self._spilled.append((name, self._open(name)))
        self._runs, self._run_keys = [], 0

    def finish(self) -> list[tuple[str, int]]:
        """Writes this file's remaining keys; returns (segment name, keys) to register at commit."""
        self._spill()
        return [(name, int(seg.shape[1])) for name, seg in self._spilled]

    def adopt(self) -> None:
        """After the commit: this file's segments are part of the index."""
        for name, seg in self._spilled:
            self.committed.append(name)
            self._segments.append(seg)
        self._spilled = []
        self._bloom = _Bloom(1 << 20)

    def abort(self) -> None:
        for name, _ in self._spilled:
            (self.dir / name).unlink(missing_ok=True)
        self._spilled, self._runs, self._run_keys = [], [], 0
        self._bloom = _Bloom(1 << 20)

    # --- compaction ------------------------------------------------------------------------------------------
    def plan_merge(self) -> list[str]:
        """Committed segments to merge now: two or more of the same size class (a binary counter)."""
        classes: dict[int, list[str]] = {}
        for name, seg in zip(self.committed, self._segments, strict=True):
            classes.setdefault(size_class(int(seg.shape[1])), []).append(name)
        for c in sorted(classes):
            if len(classes[c]) >= MERGE_FANIN:
                return classes[c]
        return []

    def merge(self, names: list[str], out_name: str) -> int:
        return merge_segments([self.dir / n for n in names], self.dir / out_name, durable=self.durable)

    def replace(self, removed: list[str], added: str) -> None:
        keep = [(n, s) for n, s in zip(self.committed, self._segments, strict=True) if n not in removed]
        self.committed = [n for n, _ in keep] + [added]
        self._segments = [s for _, s in keep] + [self._open(added)]

    @property
    def size(self) -> int:
        return sum(int(s.shape[1]) for s in self._segments)
