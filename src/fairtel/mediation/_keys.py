"""Dedup keys at scale: (source, record_id) -> a 128-bit hash, kept in sorted, memory-mapped segments.

A key is two 64-bit words computed vectorised over Arrow string buffers (a fixed, documented mix, so the
same key hashes the same in every version of fairtel and of its libraries). Segments are ``.npy`` arrays of
shape (2, n), sorted by (h1, h2), written once and never changed; the mediation state database lists the
committed ones, so a segment becomes part of the index in the same transaction as the file it came from.
Lookups are a binary search per segment on the memory map (only the h1 row is touched, h2 only on a hit);
segments of similar size are merged in the background of a commit, range by range, in bounded memory.

Within one file the new keys collect in memory as sorted runs and spill to a segment file past
``SPILL_KEYS``; at the end of the file they become that file's segments. Blocked Bloom filters over them,
sized once and never rebuilt, say which keys of a batch need the exact check against the runs and segments.
Sorting (a batch, a spill, a merge) sorts packed words (high bits of h1, position in the low bits) with a
plain sort rather than an indirect one, and puts the rare near-ties in exact order afterwards.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPILL_KEYS = 4_000_000  # keys of one file held in memory before they go to a segment file
BLOOM_FIRST = 1 << 22  # keys the first Bloom filter of a file is sized for at most; each next one holds twice as many
BLOOM_SMALLEST = 1 << 16  # ... and at least, whatever the file's expected keys
RELEASE_EVERY = 4  # batches between releasing mapped key pages from the resident set
MERGE_FANIN = 2
HASH_CHUNK = 1 << 16  # keys hashed at a time
MERGE_RANGE_KEYS = 1 << 21  # keys of the inputs merged at a time
_BASE_LEVEL = 1 << 16

_U = np.uint64
_C1, _C2 = _U(0xFF51AFD7ED558CCD), _U(0xC4CEB9FE1A85EC53)
_K1, _K2 = _U(0x9E3779B97F4A7C15), _U(0xD6E8FEB86659FD93)
_S1, _S2 = _U(0x243F6A8885A308D3), _U(0x13198A2E03707344)
_R33 = _U(33)
_R29 = _U(29)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a bijection with full avalanche. Works in place on ``h``."""
    t = h >> _R33
    h ^= t
    h *= _C1
    np.right_shift(h, _R33, out=t)
    h ^= t
    h *= _C2
    np.right_shift(h, _R33, out=t)
    h ^= t
    return h


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
    differ in one word always differ after it; the finaliser spreads every bit. (In place, into two buffers:
    the same arithmetic as one expression per step, without a temporary array per operation.)"""
    h = lengths.astype(np.uint64)
    h += seed
    h *= k
    mixed = np.empty_like(h)
    t = np.empty_like(h)
    shortest = int(lengths.min(initial=0))
    for j in range(words.shape[1]):
        np.bitwise_xor(h, words[:, j], out=mixed)
        mixed *= k
        np.right_shift(mixed, _R29, out=t)
        mixed ^= t
        if j == 0 or shortest > 8 * j:  # every string has this word
            h, mixed = mixed, h
        else:
            np.copyto(h, mixed, where=lengths > 8 * j)
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
    one = single_value(source)
    if one is not None:  # one feed in the batch (the usual case): no dictionary pass
        p1, p2 = (np.full(1, x, dtype=np.uint64) for x in _source_hash(one))
        at = np.zeros(n, dtype=np.intp)
    else:
        enc = pc.dictionary_encode(source)
        pairs = np.array([_source_hash(s) for s in enc.dictionary.to_pylist()], dtype=np.uint64).reshape(-1, 2)
        p1, p2 = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
        at = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lo in range(0, n, HASH_CHUNK):  # a slice at a time, so the dozens of passes stay in cache
            hi = min(lo + HASH_CHUNK, n)
            w, ln, src = words[lo:hi], lengths[lo:hi], at[lo:hi]
            a = _hash_words(w, ln, _S1, _K1)
            a ^= p1[src] if len(p1) > 1 else p1[0]
            h1[lo:hi] = _fmix(a)
            b = _hash_words(w, ln, _S2, _K2)
            b ^= p2[src] if len(p2) > 1 else p2[0]
            h2[lo:hi] = _fmix(b)
    return h1, h2


def single_value(arr: pa.Array) -> str | None:
    """The one value of a string array that holds a single distinct value, else None (read from its buffers:
    equal lengths and equal bytes)."""
    n = len(arr)
    if n == 0 or arr.null_count or not pa.types.is_string(arr.type):
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != n * width:
        return None
    if not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].tobytes()
    if data != data[:width] * n:
        return None
    first = arr[0].as_py()
    return first if isinstance(first, str) else None


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


def read_rows(path: Path, row: int, lo: int, hi: int, layout: tuple[int, int] | None = None) -> np.ndarray:
    """Keys lo..hi of one row of a segment, read with plain I/O: unlike a memory map, the pages do not stay
    in this process's resident set (merges and rebuilds read every key once). ``layout``: the segment's
    ``_layout``, when the caller has it already (parsing the header costs more than reading a small range)."""
    offset, n = layout or _layout(path)
    return np.fromfile(path, dtype="<u8", count=max(hi - lo, 0), offset=offset + (row * n + lo) * 8)


def _pwrite_all(fd: int, data: np.ndarray, offset: int) -> None:
    view = memoryview(data.data).cast("B")
    while len(view):
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def merge_segments(paths: list[Path], out: Path, *, durable: bool) -> int:
    """The union of sorted segments written to ``out`` key range by key range, with plain reads and writes,
    so memory stays bounded (about ``MERGE_RANGE_KEYS`` keys of the inputs at a time) whatever the sizes.
    Each range is the inputs' sorted pieces end to end, put in order by one merging sort of packed words.
    Inputs that fit in one range are merged in one (each header is read once: a merge of the small segments
    of many small files is dominated by the fixed costs)."""
    layouts = [_layout(p) for p in paths]
    total = sum(n for _, n in layouts)
    bits = (max(-(-total // MERGE_RANGE_KEYS), 1) - 1).bit_length()
    shift = 64 - bits
    maps = [np.load(p, mmap_mode="r") for p in paths] if bits else []  # only to find range bounds (a few pages each)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<u8", "fortran_order": False, "shape": (2, total)})
        base = f.tell()
        f.truncate(base + 2 * total * 8)
        fd = f.fileno()
        at = 0

        def bound(i: int, r: int) -> int:
            """Where range ``r`` starts in input ``i`` (its end past the last range)."""
            if r == 0:
                return 0
            if r == 1 << bits:
                return layouts[i][1]
            return int(np.searchsorted(maps[i][0], _U(r << shift), side="left"))

        for r in range(1 << bits):
            spans = []
            for i in range(len(paths)):
                lo, hi = bound(i, r), bound(i, r + 1)
                if hi > lo:
                    spans.append((i, lo, hi))
            if not spans:
                continue
            row = np.concatenate([read_rows(paths[i], 0, lo, hi, layouts[i]) for i, lo, hi in spans])
            order, s1 = _sorted_h1(row)
            del row
            k = len(s1)
            _pwrite_all(fd, s1, base + at * 8)
            del s1
            row = np.concatenate([read_rows(paths[i], 1, lo, hi, layouts[i]) for i, lo, hi in spans])
            _pwrite_all(fd, row[order], base + (total + at) * 8)
            del row, order
            at += k
        f.flush()
        if durable:
            os.fsync(fd)
    maps.clear()  # the range bounds are found: unmap the inputs
    os.replace(tmp, out)
    return total


def size_class(keys: int) -> int:
    return 0 if keys <= _BASE_LEVEL else int(math.log2(keys / _BASE_LEVEL)) + 1


_POSITIONS = np.arange(1 << 18, dtype=np.uint64)  # 0..n-1 for a batch's sort, made once (2 MB)


def _positions(n: int) -> np.ndarray:
    return _POSITIONS[:n] if n <= len(_POSITIONS) else np.arange(n, dtype=np.uint64)


def _packed_order(h1: np.ndarray, *, runs: bool = False) -> np.ndarray:
    """Positions that sort ``h1`` by its high bits, ties by position: one plain sort of words that hold h1's
    high bits and the position in the low ones (several times faster than an indirect sort). ``runs``: h1 is
    a concatenation of sorted runs, which a merging sort takes in linear passes."""
    n = len(h1)
    bits = _low_bits(n)
    low = _U((1 << bits) - 1)
    packed = h1 & ~low
    packed |= _positions(n)
    packed.sort(kind="stable" if runs else "quicksort")
    packed &= low
    return packed.view(np.int64)


def _low_bits(n: int) -> int:
    """How many low bits of h1 the packed sort of ``n`` keys gives to the position."""
    return max(1, (n - 1).bit_length())


def _sorted_h1(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts an h1 row (sorted runs concatenated), and the row in that order."""
    order = _packed_order(row, runs=True)
    s1 = row[order]
    bad = np.flatnonzero(s1[1:] < s1[:-1])
    if len(bad):  # keys apart in the low bits only
        _exact_order(order, bad, row, None, s1)
    return order, s1


def _exact_order(order: np.ndarray, bad: np.ndarray, h1: np.ndarray, h2: np.ndarray | None,
                 s1: np.ndarray, s2: np.ndarray | None = None) -> None:
    """The slow path, for the rare keys whose h1 differs only in the bits the packed sort left out (or, with
    ``h2``, equal h1 with other h2): each run of equal h1 high bits that holds a position of ``bad`` (``i``:
    keys ``i`` and ``i + 1`` out of order) is re-sorted by (h1, h2, position), in ``order`` and in the sorted
    rows ``s1`` (and ``s2``). The other runs are in that order already, so only these few are touched.
    ``s1`` is sorted by the high bits, so a run's bounds are found by binary search on it even while the
    run itself is out of order."""
    n = len(order)
    shift = _low_bits(n)
    top_high = (1 << (64 - shift)) - 1
    end = -1
    for i in bad.tolist():
        if i < end:  # in the run just re-sorted
            continue
        high = int(s1[i]) >> shift
        lo = int(np.searchsorted(s1, _U(high << shift), side="left"))
        end = n if high == top_high else int(np.searchsorted(s1, _U((high + 1) << shift), side="left"))
        sub = order[lo:end]
        keys = (sub, h1[sub]) if h2 is None else (sub, h2[sub], h1[sub])
        sub = sub[np.lexsort(keys)]
        order[lo:end] = sub
        s1[lo:end] = h1[sub]
        if s2 is not None and h2 is not None:
            s2[lo:end] = h2[sub]


def _sorted_keys(h1: np.ndarray, h2: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Sorts the keys by (h1, h2), equal keys by position: writes them to ``out`` (2, n) and returns the
    positions. The result is what an ``argsort`` of h1 and a ``lexsort`` of its ties give."""
    order = _packed_order(h1)
    s1 = np.take(h1, order, out=out[0])
    s2 = np.take(h2, order, out=out[1])
    apart = s1[1:] < s1[:-1]  # keys apart in the low bits only
    other = (s1[1:] == s1[:-1]) & (s2[1:] != s2[:-1])  # equal h1 with other h2
    if apart.any() or other.any():
        _exact_order(order, np.flatnonzero(apart | other), h1, h2, s1, s2)
    return order


class _Bloom:
    """A blocked Bloom filter: one 64-bit word per key, four bits in it (from h2), 32 bits per key: about one
    false positive in 1 000 when full (at 16 bits per key the exact lookups of its false positives, in each of
    the file's runs and segments, cost more than the larger filter does). The word is chosen by the high bits
    of h1, so keys sorted by h1 (as ``seen`` handles them) read and write the filter in ascending order, like
    a merge, instead of at random. It only decides which keys need the exact check against this file's runs
    and segments; a false positive costs a lookup, never a record. Sized once, never rebuilt: when it is full
    the index starts another one, twice as large (a scalable Bloom filter)."""

    def __init__(self, capacity: int) -> None:
        words = 1 << max(6, (max(capacity, 1) - 1).bit_length() - 1)  # a power of two, >= capacity / 2
        self.capacity = 2 * words
        self.words = np.zeros(words, dtype=np.uint64)
        self._shift = _U(64 - (words.bit_length() - 1))
        self.count = 0

    def _index(self, h1: np.ndarray) -> np.ndarray:
        return (h1 >> self._shift).view(np.int64)

    def add(self, h1: np.ndarray, bits: np.ndarray) -> None:
        """Adds keys (``bits``: their ``_bloom_bits``). Keys in ascending h1 order (the usual case) visit the
        words in order, and the bits of keys that share a word are or-ed together first (one pass, no
        ``ufunc.at``)."""
        if len(h1) == 0:
            return
        idx = self._index(h1)
        if (idx[1:] >= idx[:-1]).all():
            starts = np.flatnonzero(idx[1:] != idx[:-1]) + 1
            starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
            self.words[idx[starts]] |= np.bitwise_or.reduceat(bits, starts)
        else:
            np.bitwise_or.at(self.words, idx, bits)
        self.count += len(h1)

    def may_contain(self, h1: np.ndarray, bits: np.ndarray) -> np.ndarray:
        return (self.words[self._index(h1)] & bits) == bits


def _bit_patterns() -> np.ndarray:
    """65 536 fixed words of (up to) four bits each, at positions drawn from a bijective mix of the index."""
    x = np.arange(1 << 16, dtype=np.uint64) * _K1
    with np.errstate(over="ignore"):
        x = _fmix(x)
    one, six = _U(1), _U(63)
    out = np.zeros(1 << 16, dtype=np.uint64)
    for shift in (0, 6, 12, 18):
        out |= one << ((x >> _U(shift)) & six)
    return out


_PATTERNS = _bit_patterns()


def _bloom_bits(h2: np.ndarray) -> np.ndarray:
    """The bits of each key in its word: one of 65 536 four-bit patterns, picked by the top 16 bits of h2
    (one table lookup instead of four shifts per key)."""
    return _PATTERNS[h2 >> _U(48)]


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
        self._blooms: list[_Bloom] = []
        self._prefix: str | Callable[[], str] = ""
        self._serial = 0
        self._bloom_first = BLOOM_FIRST
        self._batches = 0

    def _open(self, name: str) -> np.ndarray:
        return np.load(self.dir / name, mmap_mode="r")

    # --- one file -------------------------------------------------------------------------------------------
    def begin(self, prefix: str | Callable[[], str], *, expected_keys: int | None = None) -> None:
        """Starts a file; its segments are named ``<prefix>-NNNN.npy``. A callable prefix is asked for only
        when the first segment is written (the content hash it comes from may still be being computed).
        ``expected_keys``: about how many records the file holds, to size its first Bloom filter (a small file
        neither allocates nor clears a filter for millions of keys; a guess too small costs one more filter)."""
        self._runs, self._run_keys, self._spilled, self._blooms = [], 0, [], []
        self._prefix, self._serial = prefix, 0
        first = BLOOM_FIRST if expected_keys is None else min(BLOOM_FIRST, max(BLOOM_SMALLEST, expected_keys))
        self._bloom_first = 1 << max(0, (first - 1).bit_length())

    def seen(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Marks keys already known (committed, earlier in this file, or earlier in this batch) and adds the
        others to this file's keys. Returns the duplicate mask in input order."""
        n = len(h1)
        if n == 0:
            return np.zeros(0, dtype=bool)
        keys = np.empty((2, n), dtype=np.uint64)  # sorted; becomes this batch's run when every key is new
        order = _sorted_keys(h1, h2, keys)
        s1, s2 = keys[0], keys[1]
        again = np.zeros(n, dtype=bool)
        np.logical_and(s1[1:] == s1[:-1], s2[1:] == s2[:-1], out=again[1:])
        first: np.ndarray | None = None
        q1, q2 = s1, s2
        if again.any():
            first = np.flatnonzero(~again)
            q1, q2 = s1[first], s2[first]
        known = np.zeros(len(q1), dtype=bool)
        for seg in self._segments:
            todo = np.flatnonzero(~known)
            if len(todo) == 0:
                break
            known[todo] = _contains(seg, q1[todo], q2[todo])
        bits = _bloom_bits(q2)
        if self._blooms:
            todo = np.flatnonzero(~known)
            t1, tb = (q1, bits) if len(todo) == len(q1) else (q1[todo], bits[todo])
            maybe = self._blooms[0].may_contain(t1, tb)
            for bloom in self._blooms[1:]:
                maybe |= bloom.may_contain(t1, tb)
            cand = todo[maybe]
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
        fresh = ~known
        if first is None and not known.any():
            self._add(keys, bits)
            return np.zeros(n, dtype=bool)
        if fresh.any():
            self._add(np.stack([q1[fresh], q2[fresh]]), bits[fresh])
        if first is None:
            dup_sorted = known
        else:
            dup_sorted = again
            dup_sorted[first] = known
        dup = np.empty(n, dtype=bool)
        dup[order] = dup_sorted
        return dup

    def _add(self, run: np.ndarray, bits: np.ndarray) -> None:
        """New keys (2, m), ascending in the first row (``bits``: their Bloom bits): one more sorted run, and
        into the newest Bloom filter."""
        m = int(run.shape[1])
        self._runs.append(run)
        self._run_keys += m
        if not self._blooms or self._blooms[-1].count + m > self._blooms[-1].capacity:
            last = self._blooms[-1].capacity if self._blooms else self._bloom_first // 2
            self._blooms.append(_Bloom(max(2 * last, m)))
        self._blooms[-1].add(run[0], bits)
        if self._run_keys >= SPILL_KEYS:
            self._spill()

    def _name(self) -> str:
        if callable(self._prefix):
            self._prefix = self._prefix()
        self._serial += 1
        return f"{self._prefix}-{self._serial:04d}.npy"

    def _spill(self) -> None:
        """The runs, merged into one sorted segment file, one row at a time (memory: the runs plus three
        arrays of one row)."""
        if not self._runs:
            return
        runs, self._runs, self._run_keys = self._runs, [], 0
        total = sum(int(r.shape[1]) for r in runs)
        row = np.concatenate([r[0] for r in runs])
        order, s1 = _sorted_h1(row)
        del row
        name = self._name()
        path = self.dir / name
        tmp = path.with_name(f".{name}.tmp")
        with open(tmp, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<u8", "fortran_order": False, "shape": (2, total)})
            f.write(s1.data)
            del s1
            f.write(np.take(np.concatenate([r[1] for r in runs]), order).data)
            del runs
            f.flush()
            if self.durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        self._spilled.append((name, self._open(name)))

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
        self._blooms = []

    def abort(self) -> None:
        for name, _ in self._spilled:
            (self.dir / name).unlink(missing_ok=True)
        self._spilled, self._runs, self._run_keys = [], [], 0
        self._blooms = []

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
