"""RawBatch -> typed clean usage rows + rejects with stable reason codes, vectorised.

Every check yields a boolean mask over the batch; a row is refused for the first check it fails, in the order
below (so a record with no record_id says ``missing_field`` rather than whatever else is wrong with it). Casts
take Arrow's fast path for a clean batch and fall back to a lenient, per-row parse (Polars) only when that
fails, so a few bad rows never cost the good ones anything.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA, Direction, UsageKind
from fairtel.core.countries import COUNTRIES
from fairtel.core.money import MINOR_UNITS
from fairtel.mediation.readers import POS, RAW, WRITTEN, RawBatch, Reject
from fairtel.mediation.readers._base import bulk_pool


class Reason(StrEnum):
    """Stable reject codes (docs/formats.md lists them with their meaning)."""

    MISSING_FIELD = "missing_field"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_KIND = "bad_kind"
    BAD_NUMBER = "bad_number"
    BAD_VALUE = "bad_value"
    NEGATIVE = "negative"
    OUT_OF_RANGE = "out_of_range"
    BAD_AMOUNT = "bad_amount"
    COLUMN_COUNT = "column_count"
    UNDECODABLE = "undecodable"
    TRUNCATED = "truncated"
    BAD_JSON = "bad_json"
    LINE_TOO_LONG = "line_too_long"
    FILTERED = "filtered"
    CONFLICTING_PART = "conflicting_part"
    LATE_PART = "late_part"
    FUTURE_TIMESTAMP = "future_timestamp"


SEQ = "_seq"
FINAL = "_final"

MAX_ID = 128
MAX_DURATION_S = 7 * 86400  # a single record longer than a week is a broken counter, not a call
MAX_BYTES = 1 << 40  # 1 TiB in one record
TS_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2100, 1, 1, tzinfo=UTC)
_TS_MIN_US = int(TS_MIN.timestamp() * 1_000_000)
_TS_MAX_US = int(TS_MAX.timestamp() * 1_000_000)
# How far past the moment of ingest a record may start (a switch's clock a little ahead, a zone written wrong by a
# few hours, test feeds dated a few days on): one later than that is refused as ``future_timestamp``, not filed
# under a period never billed (a clock a year ahead, 2099). Within it a record lands at worst in the next period,
# which is still to be billed. The default of ``Settings.future_tolerance_days``, which ingest passes in.
FUTURE_TOLERANCE_S = 7 * 86400
_KINDS = [k.value for k in UsageKind]
_DIRECTIONS = [d.value for d in Direction]
_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
MAX_NUMBER = 64
_MSISDN = r"^[0-9A-Za-z][0-9A-Za-z._@-]{0,63}$"
_PEER = r"^[^\s\x00-\x1f]{1,64}$"
_AMOUNT = r"^(?P<neg>-?)(?P<int>\d{1,15})(?:\.(?P<frac>\d{1,12}))?$"

_STRING_OUT = ("record_id", "source", "msisdn", "kind", "direction", "peer", "offer_id", "currency",
               "roaming_country", "cell_id", "imei", "session_id")


@dataclass(slots=True)
class Validated:
    clean: pa.Table  # CLEAN_USAGE_SCHEMA + _pos, _seq, _final
    rejects: list[Reject]
    # The original bytes of rows of ``clean`` (by row index), set only when the batch holds parts of partial
    # records: a part may still be refused when it is held (a sequence number its session already has). It
    # keeps the raw batch alive until the batch is done with, so only batches with parts pay for it.
    raw_of: Callable[[Sequence[int]], list[bytes]] | None = None


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _bits(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """Bits ``offset .. offset + n`` of an Arrow bitmap as a numpy bool array (one unpacking pass)."""
    return np.unpackbits(np.frombuffer(buf, dtype=np.uint8), count=offset + n, bitorder="little")[offset:].view(bool)


def _bool_np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False, read from its bitmaps."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n == 0 or arr.null_count == n:
        return np.zeros(n, dtype=bool)
    values = _bits(arr.buffers()[1], arr.offset, n)
    if arr.null_count:
        values &= _bits(arr.buffers()[0], arr.offset, n)
    return values


def _valid_np(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    if arr.null_count == 0:
        return np.ones(n, dtype=bool)
    if arr.null_count == n or arr.buffers()[0] is None:
        return _bool_np(arr.is_valid())
    return _bits(arr.buffers()[0], arr.offset, n).copy()


def _offsets(arr: pa.Array) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)


def _lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of every value of a string array, straight from its offsets (no kernel, no copy)."""
    return np.diff(_offsets(arr))


def _nonempty_np(arr: pa.Array) -> np.ndarray:
    """Non-empty values of a string array, straight from its offsets (no kernel, no copy)."""
    return _lengths(arr) > 0


def _value_bytes(arr: pa.Array) -> np.ndarray:
    """The bytes of all values of a string array, end to end."""
    offsets = _offsets(arr)
    buf = arr.buffers()[2]
    if buf is None or len(arr) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(buf, dtype=np.uint8)[offsets[0] : offsets[-1]]


_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[ord("0") : ord("9") + 1] = _ALNUM[ord("A") : ord("Z") + 1] = _ALNUM[ord("a") : ord("z") + 1] = True


def _all_alnum(data: np.ndarray) -> bool:
    """Whether every byte is an ASCII letter or digit (digits only, the usual case, by two reductions)."""
    if len(data) == 0:
        return True
    if int(data.min()) >= ord("0") and int(data.max()) <= ord("9"):
        return True
    return bool(_ALNUM[data].all())


class _Columns:
    """The batch's columns as single arrays, with 'present' masks (non-null, non-empty)."""

    def __init__(self, table: pa.Table) -> None:
        self.n = table.num_rows
        self.cols: dict[str, pa.Array] = {}
        for name in table.column_names:
            col = table.column(name)
            arr = col.combine_chunks(memory_pool=bulk_pool()) if col.num_chunks != 1 else col.chunk(0)
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            if name == RAW:
                pass  # the original bytes, kept as they are for rejects (a GB18030 line is not UTF-8)
            elif pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
                try:
                    arr = arr.cast(pa.string())
                except pa.ArrowInvalid:
                    arr = pa.array([None if v is None else v.decode("utf-8", "replace") for v in arr.to_pylist()],
                                   type=pa.string())
            elif pa.types.is_large_string(arr.type):  # 32-bit offsets: what the byte-level checks read
                arr = arr.cast(pa.string())
            self.cols[name] = arr
        self._present: dict[str, np.ndarray] = {}
        self._empty: dict[str, bool] = {}

    def get(self, name: str) -> pa.Array | None:
        return self.cols.get(name)

    def present(self, name: str) -> np.ndarray:
        if name not in self._present:
            arr = self.cols.get(name)
            if arr is None:
                mask = np.zeros(self.n, dtype=bool)
            elif _is_text(arr.type):
                if arr.null_count == len(arr):
                    mask = np.zeros(self.n, dtype=bool)
                    self._empty[name] = False
                else:
                    valid = _valid_np(arr)
                    mask = valid & _nonempty_np(arr)
                    self._empty[name] = bool((valid & ~mask).any())
            else:
                mask = _valid_np(arr)
            self._present[name] = mask
        return self._present[name]

    def has_empty(self, name: str) -> bool:
        """Whether the column holds empty strings (absent values that are not null)."""
        self.present(name)
        return self._empty.get(name, False)

    def text(self, name: str) -> pa.Array:
        """The column as strings, null where absent or empty."""
        arr = self.cols.get(name)
        if arr is None:
            return pa.nulls(self.n, pa.string())
        if not _is_text(arr.type):
            arr = arr.cast(pa.string())
        if arr.null_count == len(arr):
            return arr
        present = self.present(name)
        if not self._empty.get(name, False):  # nulls already stand for absent values
            return arr
        return pc.if_else(pa.array(present), arr, pa.scalar(None, pa.string()))


_INTEGER = r"^\s*[+-]?[0-9]+\s*$"


@dataclass(slots=True)
class _Ints:
    values: pa.Array  # int64, null where absent or not read
    bad: np.ndarray  # present but not an integer
    huge: np.ndarray  # an integer beyond int64, positive ...
    tiny: np.ndarray  # ... or negative: out of range (or negative), not "not an integer"
    inexact: np.ndarray | None = None  # a whole float too large for its type to tell one integer from the next
    inexact_what: str = ""


# A float column stands for an integer only below the magnitude where its type still holds every integer: from
# 2**53 (float64; 2**24 float32, 2**11 float16) on, the writer's integer may have been rounded to the value read
# (2**53 + 1 is stored as 2**53), so the count is not known exactly and the record is refused, never guessed.
_FLOAT_EXACT = {16: 11, 32: 24, 64: 53}


def _parse_int(arr: pa.Array | None, present: np.ndarray) -> _Ints:
    """int64 values, an 'unparseable' mask (present but not an integer), and the integers too large for int64
    (``9999999999999999999999``), which are out of range rather than malformed."""
    n = len(present)
    none = np.zeros(n, dtype=bool)
    if arr is None:
        return _Ints(pa.nulls(n, pa.int64()), none, none, none)
    t = arr.type
    if pa.types.is_integer(t):
        if t == pa.uint64():  # above int64's range: out of range, that row only (a safe cast fails the whole batch)
            over = _bool_np(pc.greater(arr, pa.scalar(2**63 - 1, pa.uint64())))
            if over.any():
                kept = pc.if_else(pa.array(over), pa.scalar(None, pa.uint64()), arr)
                return _Ints(kept.cast(pa.int64()), none, present & over, none)
        return _Ints(arr.cast(pa.int64()), none, none, none)
    if pa.types.is_floating(t):
        # compared in numpy, not by a cast back to float64 (which refuses integers above 2**53 for the whole
        # batch): NaN and infinities are not integers; a whole value beyond int64 is out of range, that row only
        f = np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
        finite = np.isfinite(f)
        whole = finite & (np.floor(np.where(finite, f, 0.0)) == np.where(finite, f, 0.5))
        huge = present & whole & (f >= 2.0**63)
        tiny = present & whole & (f < -(2.0**63))
        exact = whole & ~huge & ~tiny
        ints = pa.array(np.where(exact, f, 0.0).astype(np.int64), pa.int64(), mask=~(exact & present))
        digits = _FLOAT_EXACT.get(t.bit_width, 11)
        inexact = present & exact & (np.abs(np.where(exact, f, 0.0)) >= 2.0**digits)
        what = (f"a {t} at or above 2**{digits} in magnitude: not an exact integer (the writer's integer may have "
                "been rounded; write counts as an integer column)")
        return _Ints(ints, present & ~whole, huge, tiny, inexact if inexact.any() else None, what)
    if _is_text(t):
        try:  # fast path: every value is already a clean integer
            return _Ints(pc.cast(arr, pa.int64(), memory_pool=bulk_pool()), none, none, none)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # some value is not: parse leniently below and mark exactly the ones that fail
        import polars as pl  # only for the lenient path: importing polars costs a third of a second

        s = pl.Series(arr).str.strip_chars()
        values = s.cast(pl.Int64, strict=False).to_arrow()
        if not isinstance(values, pa.Array):
            values = values.combine_chunks()
        bad = present & ~_bool_np(values.is_valid())
        huge, tiny = none, none
        if bad.any():  # the few that failed: integers all the same when written as one, only too large
            rows = np.flatnonzero(bad)
            sub = pc.take(arr, pa.array(rows))
            integer = _bool_np(pc.match_substring_regex(sub, _INTEGER))
            if integer.any():
                negative = _bool_np(pc.starts_with(pc.utf8_trim_whitespace(sub), "-"))
                huge, tiny = none.copy(), none.copy()
                huge[rows[integer & ~negative]] = True
                tiny[rows[integer & negative]] = True
                bad = bad & ~huge & ~tiny
        return _Ints(values.cast(pa.int64()), bad, huge, tiny)
    return _Ints(pa.nulls(n, pa.int64()), present.copy(), none, none)


def _parse_ts(arr: pa.Array | None, present: np.ndarray) -> tuple[pa.Array, np.ndarray, str]:
    """UTC microsecond timestamps and a 'bad' mask; the message names what was expected."""
    n = len(present)
    target = pa.timestamp("us", tz="UTC")
    if arr is None:
        return pa.nulls(n, target), np.zeros(n, dtype=bool), ""
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return pa.nulls(n, target), present.copy(), "a timestamp without time zone"
        return arr.cast(target), np.zeros(n, dtype=bool), ""
    if not _is_text(t):
        return pa.nulls(n, target), present.copy(), f"a {t} is not a timestamp"
    try:
        values = pc.cast(arr, target, memory_pool=bulk_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = _parse_ts_rows(arr, target)
    bad = present & ~_bool_np(values.is_valid())
    return values, bad, "not an RFC 3339 timestamp with offset"


# Every text Arrow's cast reads as an instant with an offset has this shape (date, hour, optional minutes,
# seconds and up to six fraction digits, then a zone); the tests hold the two together.
_ISO_ZONED = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _parse_ts_rows(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """A batch whose cast failed, parsed so that each row gets what it would get in a batch that casts: a value
    Arrow's cast reads keeps that instant, found by casting ranges of the rows of that shape and halving a range
    that fails; anything else is parsed leniently (Polars). A record's verdict and instant never depend on
    the other records of its batch."""
    import polars as pl  # only for the lenient path: importing polars costs a third of a second

    text = pc.utf8_trim_whitespace(arr)
    parsed = pl.Series(text).str.to_datetime(format="%+", time_zone="UTC", strict=False, time_unit="us").to_arrow()
    if not isinstance(parsed, pa.Array):
        parsed = parsed.combine_chunks()
    parsed = parsed.cast(target)
    micros = _np_int(parsed).copy()
    ok = _valid_np(parsed).copy()
    shaped = np.flatnonzero(_bool_np(pc.match_substring_regex(text, _ISO_ZONED)))
    if len(shaped):
        sub = pc.take(text, pa.array(shaped))
        spans = [(0, len(shaped))]
        while spans:
            lo, hi = spans.pop()
            try:
                cast = pc.cast(sub.slice(lo, hi - lo), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                if hi - lo > 1:
                    mid = (lo + hi) // 2
                    spans += [(mid, hi), (lo, mid)]
                continue
            micros[shaped[lo:hi]] = _np_int(cast)
            ok[shaped[lo:hi]] = True
    return pa.array(micros, type=pa.int64(), mask=~ok).cast(target)


def _in_set(arr: pa.Array | None, present: np.ndarray, allowed: Sequence[str]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Values normalised to one of ``allowed`` (case and surrounding spaces forgiven), a 'bad' mask and each
    row's index into ``allowed`` (-1 where none)."""
    n = len(present)
    if arr is None:
        return pa.nulls(n, pa.string()), np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int8)
    if not _is_text(arr.type):
        arr = arr.cast(pa.string())
    value_set = pa.array(allowed)
    idx = pc.index_in(arr, value_set=value_set)
    ok = _valid_np(idx)
    values = arr
    if not (ok | ~present).all():
        values = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        idx = pc.index_in(values, value_set=value_set)
        ok = _valid_np(idx)
    codes = np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int8) if ok.any() else \
        np.full(n, -1, dtype=np.int8)
    bad = present & ~ok
    return values, (bad if bad.any() else np.zeros(n, dtype=bool)), codes


def _bad_ident(arr: pa.Array | None, present: np.ndarray, pattern: str, limit: int) -> np.ndarray:
    """Present values that do not match ``pattern`` (a fast alphanumeric test first, the regex only if needed)."""
    n = len(present)
    if arr is None or not present.any():
        return np.zeros(n, dtype=bool)
    if not _is_text(arr.type):
        arr = arr.cast(pa.string())
    if int(_lengths(arr).max(initial=0)) <= limit and _all_alnum(_value_bytes(arr)):
        return np.zeros(n, dtype=bool)  # every value is short ASCII letters and digits: they all match
    fast = pc.and_(pc.ascii_is_alnum(arr), pc.less_equal(pc.binary_length(arr), limit))
    bad = present & ~_bool_np(fast)
    if bad.any():
        rows = np.flatnonzero(bad)
        ok = _bool_np(pc.match_substring_regex(pc.take(arr, pa.array(rows)), pattern))
        bad[rows[ok]] = False
    return bad


def _drop_plus(arr: pa.Array | None) -> pa.Array | None:
    """E.164 is written without '+'; a leading one is dropped rather than refused."""
    if arr is None or not _is_text(arr.type) or len(arr) == 0 or arr.null_count == len(arr):
        return arr
    offsets = _offsets(arr)
    starts = offsets[:-1][np.diff(offsets) > 0]
    buf = arr.buffers()[2]
    if buf is None or len(starts) == 0 or not (np.frombuffer(buf, dtype=np.uint8)[starts] == ord("+")).any():
        return arr
    return pc.utf8_ltrim(arr, "+")


def _too_long(arr: pa.Array | None, present: np.ndarray, limit: int) -> np.ndarray:
    if arr is None or not present.any():
        return np.zeros(len(present), dtype=bool)
    if not _is_text(arr.type):
        arr = arr.cast(pa.string())
    lengths = _lengths(arr)
    if int(lengths.max(initial=0)) <= limit:
        return np.zeros(len(present), dtype=bool)
    return present & (lengths > limit)


def _parse_bool(arr: pa.Array | None, present: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    n = len(present)
    if arr is None:
        return pa.nulls(n, pa.bool_()), np.zeros(n, dtype=bool)
    if pa.types.is_boolean(arr.type):
        return arr, np.zeros(n, dtype=bool)
    if pa.types.is_integer(arr.type):
        arr = arr.cast(pa.string())
    if not _is_text(arr.type):
        return pa.nulls(n, pa.bool_()), present.copy()
    norm = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    is_true = pc.is_in(norm, value_set=pa.array(_TRUE))
    is_false = pc.is_in(norm, value_set=pa.array(_FALSE))
    bad = present & ~(_bool_np(is_true) | _bool_np(is_false))
    values = pc.if_else(pa.array(present & ~bad), is_true, pa.scalar(None, pa.bool_()))
    return values, bad


@dataclass(slots=True)
class _Amounts:
    minor: pa.Array
    bad_format: np.ndarray
    negative: np.ndarray
    too_precise: np.ndarray
    bad_currency: np.ndarray
    currency: pa.Array


def _amounts(cols: _Columns) -> _Amounts:
    """Decimal strings -> integer minor units of each row's currency, without ever passing through a float.
    Only the rows that carry an amount or a currency are looked at."""
    n = cols.n
    present = cols.present("amount")
    cur_present = cols.present("currency")
    currency = cols.text("currency")
    none = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(present | cur_present)
    if len(rows) == 0:
        return _Amounts(pa.nulls(n, pa.int64()), none, none, none, none, currency)
    sel = pa.array(rows)
    arr = cols.get("amount")
    bad_format = none.copy()
    if arr is not None and pa.types.is_floating(arr.type):
        bad_format = present.copy()  # money is never a float
        arr = None
    if arr is not None and not _is_text(arr.type):
        arr = arr.cast(pa.string())
    sub = pc.take(arr, sel) if arr is not None else pa.nulls(len(rows), pa.string())
    sub_present, sub_cur_present = present[rows], cur_present[rows]
    parts = pc.extract_regex(pc.utf8_trim_whitespace(sub), _AMOUNT)
    matched = _valid_np(parts)
    bad_format[rows] |= sub_present & ~matched
    neg = _bool_np(pc.equal(pc.struct_field(parts, "neg"), "-"))
    negative = none.copy()
    negative[rows] = sub_present & matched & neg
    int_part = pc.struct_field(parts, "int")
    frac = pc.struct_field(parts, "frac")  # empty string when absent
    known = list(MINOR_UNITS)
    cur_idx = pc.index_in(pc.take(currency, sel), value_set=pa.array(known))
    bad_currency = none.copy()
    bad_currency[rows] = sub_cur_present & ~_valid_np(cur_idx)
    exps = pc.take(pa.array([MINOR_UNITS[c] for c in known], type=pa.int8()), cur_idx)
    exp_np = np.asarray(exps.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    minor_sub = np.zeros(len(rows), dtype=np.int64)
    precise_sub = np.ones(len(rows), dtype=bool)
    ok = sub_present & matched & (exp_np >= 0)
    for m in sorted(set(exp_np[ok].tolist())):
        at = np.flatnonzero(ok & (exp_np == m))
        pick = pa.array(at)
        f = pc.take(frac, pick)
        precise = _bool_np(pc.match_substring_regex(pc.utf8_slice_codeunits(f, m), r"^0*$"))
        precise_sub[at[~precise]] = False
        ints = np.asarray(pc.cast(pc.take(int_part, pick), pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        value = ints * (10**m)
        if m:
            head = pc.utf8_slice_codeunits(pc.utf8_rpad(f, m, "0"), 0, m)
            value = value + np.asarray(pc.cast(head, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        minor_sub[at] = value
    too_precise = none.copy()
    too_precise[rows] = ok & ~precise_sub
    valid = none.copy()
    valid[rows] = ok & precise_sub & ~neg
    minor = np.zeros(n, dtype=np.int64)
    minor[rows] = minor_sub
    return _Amounts(pa.array(minor, mask=~valid), bad_format, negative, too_precise, bad_currency, currency)


# The wholesale charge: the canonical fields, or the names the TAP reader gives them (docs/formats.md)
WHOLESALE_CHARGE = ("wholesale_charge", "tap_charge")
WHOLESALE_CURRENCY = ("wholesale_currency", "tap_currency")
_WHOLESALE_DIGITS = 18  # significant digits that always fit a signed 64-bit integer
_WHOLESALE = r"^(?P<neg>-?)(?P<int>\d+)(?:\.(?P<frac>\d+))?$"
_CURRENCY_CODE = r"^[A-Z]{3}$"


@dataclass(slots=True)
class _Wholesale:
    units: pa.Array  # int64: the charge in units of 10^-decimals of its currency
    decimals: pa.Array  # int32: the decimals the charge was written with
    currency: pa.Array  # string
    charge_field: str  # the column the charge was read from
    currency_field: str
    bad_format: np.ndarray
    negative: np.ndarray
    too_long: np.ndarray
    bad_currency: np.ndarray
    no_currency: np.ndarray


def _wholesale(cols: _Columns) -> _Wholesale:
    """The wholesale charge (a decimal string) -> integer units and the decimals it was written with, exactly
    (``0.25000`` is 25000 at 5 decimals: TAP's decimal places are kept, never rounded to a currency's minor unit),
    and its currency. Only the rows that carry a charge are looked at; the currency is kept with a charge only."""
    n = cols.n
    none = np.zeros(n, dtype=bool)
    charge_field = next((f for f in WHOLESALE_CHARGE if f in cols.cols), WHOLESALE_CHARGE[0])
    currency_field = next((f for f in WHOLESALE_CURRENCY if f in cols.cols), WHOLESALE_CURRENCY[0])
    present = cols.present(charge_field)
    rows = np.flatnonzero(present)
    if len(rows) == 0:
        return _Wholesale(pa.nulls(n, pa.int64()), pa.nulls(n, pa.int32()), pa.nulls(n, pa.string()), charge_field,
                          currency_field, none, none, none, none, none)
    sel = pa.array(rows)
    arr = cols.get(charge_field)
    assert arr is not None
    bad_format = none.copy()
    if pa.types.is_floating(arr.type):  # money is never a float
        bad_format[rows] = True
        arr = pa.nulls(n, pa.string())
    elif not _is_text(arr.type):
        arr = arr.cast(pa.string())
    parts = pc.extract_regex(pc.utf8_trim_whitespace(pc.take(arr, sel)), _WHOLESALE)
    matched = _valid_np(parts)
    bad_format[rows] |= ~matched
    negative = none.copy()
    negative[rows] = matched & _bool_np(pc.equal(pc.struct_field(parts, "neg"), "-"))
    frac = pc.struct_field(parts, "frac")  # empty when absent
    digits = pc.binary_join_element_wise(pc.struct_field(parts, "int"), frac, "")
    long = _bool_np(pc.greater(pc.utf8_length(pc.utf8_ltrim(digits, "0")), _WHOLESALE_DIGITS))
    too_long = none.copy()
    too_long[rows] = matched & long
    currency = cols.text(currency_field)
    cur_ok = _bool_np(pc.match_substring_regex(pc.take(currency, sel), _CURRENCY_CODE))
    cur_present = cols.present(currency_field)[rows]
    bad_currency, no_currency = none.copy(), none.copy()
    bad_currency[rows] = cur_present & ~cur_ok
    no_currency[rows] = ~cur_present
    ok_sub = matched & ~long
    units_sub = pc.cast(pc.if_else(pa.array(ok_sub), digits, pa.scalar("0")), pa.int64())
    decimals_sub = pc.cast(pc.utf8_length(frac), pa.int32())
    valid = none.copy()
    valid[rows] = ok_sub & ~negative[rows] & cur_present & cur_ok
    units_np = np.zeros(n, dtype=np.int64)
    units_np[rows] = np.asarray(units_sub.to_numpy(zero_copy_only=False), dtype=np.int64)
    decimals_np = np.zeros(n, dtype=np.int32)
    decimals_np[rows] = np.asarray(decimals_sub.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int32)
    mask = pa.array(~valid)
    return _Wholesale(pa.array(units_np, mask=~valid), pa.array(decimals_np, mask=~valid),
                      pc.if_else(mask, pa.scalar(None, pa.string()), currency), charge_field, currency_field,
                      bad_format, negative, too_long, bad_currency, no_currency)


def _np_int(a: pa.Array) -> np.ndarray:
    """int64 (or timestamp) values with 0 where null, read from the buffer rather than through a fill_null copy."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    if a.null_count == len(a):
        return np.zeros(len(a), dtype=np.int64)
    raw = np.frombuffer(a.buffers()[1], dtype=np.int64, count=len(a), offset=a.offset * 8)
    return raw if a.null_count == 0 else np.where(_valid_np(a), raw, 0)


def _within(a: pa.Array, low: int, high: int | None) -> bool:
    """Whether every value of an int64 or timestamp array (nulls skipped) is in ``low .. high``: the minimum and
    maximum settle the usual batch, where none is out of range, without a masked copy and comparisons. The raw
    buffer is looked at first (its null slots too, so a yes is certain); the exact minimum and maximum only
    when that says no."""
    n = len(a)
    if a.null_count == n:
        return True
    raw = np.frombuffer(a.buffers()[1], dtype=np.int64, count=n, offset=a.offset * 8)
    if int(raw.min()) >= low and (high is None or int(raw.max()) <= high):
        return True
    if a.null_count == 0:
        return False
    bounds = pc.min_max(a.view(pa.int64()) if pa.types.is_timestamp(a.type) else a)
    least, most = bounds["min"].as_py(), bounds["max"].as_py()
    return bool(least >= low and (high is None or most <= high))


def _inexact(ints: _Ints, n: int) -> np.ndarray:
    """The rows whose float value is too large to stand for one exact integer (none for integer and text columns)."""
    return ints.inexact if ints.inexact is not None else np.zeros(n, dtype=bool)


def _range_flags(ints: _Ints, present: np.ndarray, high: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(negative, above ``high``) masks of a parsed integer column's well-formed values; integers beyond int64 are
    negative or above whatever ``high`` is (above int64 itself when there is none)."""
    values, bad = ints.values, ints.bad
    if _within(values, 0, high):
        negative = above = np.zeros(len(values), dtype=bool)
    else:
        v = _np_int(values)
        above = _flag(v > high, None, bad) if high is not None else np.zeros(len(values), dtype=bool)
        negative = _flag(v < 0, present, bad)
    if ints.huge.any():
        above = above | ints.huge
    if ints.tiny.any():
        negative = negative | ints.tiny
    return negative, above


def _flag(cond: np.ndarray, present: np.ndarray | None, bad: np.ndarray) -> np.ndarray:
    """``cond & present & ~bad``, combined only when ``cond`` holds anywhere (it rarely does)."""
    if not cond.any():
        return cond
    out = cond & ~bad
    return out if present is None else out & present


def _absent_as_null(values: pa.Array, present: np.ndarray, has_empty: bool) -> pa.Array:
    """``values`` with null where the field is absent; a no-op unless some value is an empty string (nulls
    already stand for the other absent values)."""
    if not len(values) or not has_empty:
        return values
    return pc.if_else(pa.array(present), values, pa.scalar(None, values.type))


_PLAIN = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}


def _without_views(table: pa.Table) -> pa.Table:
    """``table`` with its string and binary views (a reader's or a field map's choice) as plain strings and
    bytes: Arrow's take, index_in and is_in, which checking and rejecting rest on, have no kernels for views.
    Cast once here, at the boundary, so nothing past it meets one; a table without views is returned as is."""
    if not any(f.type in _PLAIN or (pa.types.is_dictionary(f.type) and f.type.value_type in _PLAIN)
               for f in table.schema):
        return table
    columns = []
    for col in table.columns:
        t = col.type
        if t in _PLAIN:
            col = col.cast(_PLAIN[t])
        elif pa.types.is_dictionary(t) and t.value_type in _PLAIN:  # decoding one needs take too: cast its values
            col = pa.chunked_array(
                [pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(_PLAIN[t.value_type])) for c in col.chunks],
                type=pa.dictionary(t.index_type, _PLAIN[t.value_type], t.ordered))
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _tolerance(seconds: float) -> str:
    if seconds % 86400 == 0 and seconds:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds:g} s"


def validate(batch: RawBatch, *, file: str, source: str, now: datetime | None = None,
             future_tolerance_s: float = FUTURE_TOLERANCE_S) -> Validated:
    """Check and type one batch. ``source`` fills records that name none. A record starting more than
    ``future_tolerance_s`` after ``now`` (the moment of ingest; the clock when not given) is refused as
    ``future_timestamp``."""
    table = _without_views(batch.table)
    if table is not batch.table:  # rejects take their original records from the batch: the plain one
        batch = replace(batch, table=table)
    cols = _Columns(table)
    for name in ("msisdn", "peer"):
        if name in cols.cols:
            cols.cols[name] = _drop_plus(cols.cols[name])
    n = cols.n
    P = cols.present
    kind_v, bad_kind, kind_code = _in_set(cols.get("kind"), P("kind"), _KINDS)
    dir_v, bad_dir, dir_code = _in_set(cols.get("direction"), P("direction"), _DIRECTIONS)
    ts, bad_ts, ts_what = _parse_ts(cols.get("started_at"), P("started_at"))
    at = now if now is not None else datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("validate: now must be an aware datetime")
    latest_us = int(at.timestamp() * 1_000_000) + int(future_tolerance_s * 1_000_000)
    if _within(ts, _TS_MIN_US, min(_TS_MAX_US - 1, latest_us)):
        ts_range = ts_future = np.zeros(n, dtype=bool)
    else:
        ts_np = _np_int(ts)
        ts_range = _flag((ts_np < _TS_MIN_US) | (ts_np >= _TS_MAX_US), P("started_at"), bad_ts)
        ts_future = _flag(ts_np > latest_us, P("started_at"), bad_ts | ts_range)
    future_what = (f"later than the time of ingest ({at.astimezone(UTC):%Y-%m-%dT%H:%MZ}) plus "
                   f"{_tolerance(future_tolerance_s)} (a switch clock or time zone set wrong?)")
    dur_i = _parse_int(cols.get("duration_s"), P("duration_s"))
    up_i = _parse_int(cols.get("bytes_up"), P("bytes_up"))
    down_i = _parse_int(cols.get("bytes_down"), P("bytes_down"))
    seq_i = _parse_int(cols.get("seq"), P("seq"))
    dur, bad_dur, up, bad_up, down, bad_down = dur_i.values, dur_i.bad, up_i.values, up_i.bad, down_i.values, down_i.bad
    seq, bad_seq = seq_i.values, seq_i.bad
    final, bad_final = _parse_bool(cols.get("final"), P("final"))
    amounts = _amounts(cols)
    whole = _wholesale(cols)

    dur_neg, dur_high = _range_flags(dur_i, P("duration_s"), MAX_DURATION_S)
    up_neg, up_high = _range_flags(up_i, P("bytes_up"), MAX_BYTES)
    down_neg, down_high = _range_flags(down_i, P("bytes_down"), MAX_BYTES)
    seq_neg, seq_high = _range_flags(seq_i, P("seq"), None)
    is_voice = kind_code == _KINDS.index("voice")
    is_sms = kind_code == _KINDS.index("sms")
    is_data = kind_code == _KINDS.index("data")
    is_vas = kind_code == _KINDS.index("vas")
    is_out = dir_code == _DIRECTIONS.index("out")
    talk = (is_voice | is_sms) & ~bad_kind

    checks: list[tuple[Reason, str, str, np.ndarray]] = [
        (Reason.MISSING_FIELD, "record_id", "required", ~P("record_id")),
        (Reason.BAD_VALUE, "record_id", f"longer than {MAX_ID} characters", _too_long(cols.get("record_id"), P("record_id"), MAX_ID)),
        (Reason.MISSING_FIELD, "msisdn", "required", ~P("msisdn")),
        (Reason.MISSING_FIELD, "kind", "required", ~P("kind")),
        (Reason.MISSING_FIELD, "started_at", "required", ~P("started_at")),
        (Reason.BAD_KIND, "kind", f"not one of {', '.join(_KINDS)}", bad_kind),
        (Reason.BAD_TIMESTAMP, "started_at", ts_what, bad_ts),
        (Reason.BAD_TIMESTAMP, "started_at", f"outside {TS_MIN.year}..{TS_MAX.year - 1}", ts_range),
        (Reason.FUTURE_TIMESTAMP, "started_at", future_what, ts_future),
        (Reason.BAD_NUMBER, "msisdn", "not a subscriber number (E.164 digits, or a PBX extension or SIP user)",
         _bad_ident(cols.get("msisdn"), P("msisdn"), _MSISDN, MAX_NUMBER)),
        (Reason.BAD_VALUE, "source", f"longer than {MAX_ID} characters", _too_long(cols.get("source"), P("source"), MAX_ID)),
        (Reason.BAD_VALUE, "session_id", f"longer than {MAX_ID} characters", _too_long(cols.get("session_id"), P("session_id"), MAX_ID)),
        (Reason.BAD_VALUE, "direction", "not out or in", bad_dir),
        (Reason.MISSING_FIELD, "direction", "required for voice and sms", talk & ~P("direction")),
        (Reason.BAD_NUMBER, "peer", f"not a number or address of at most {MAX_NUMBER} characters",
         _bad_ident(cols.get("peer"), P("peer"), _PEER, MAX_NUMBER)),
        (Reason.MISSING_FIELD, "peer", "required for outgoing voice and sms", talk & is_out & ~P("peer")),
        (Reason.BAD_VALUE, "duration_s", "not an integer", bad_dur),
        (Reason.NEGATIVE, "duration_s", "negative", dur_neg),
        (Reason.OUT_OF_RANGE, "duration_s", f"more than {MAX_DURATION_S} s in one record", dur_high),
        (Reason.BAD_VALUE, "duration_s", dur_i.inexact_what, _inexact(dur_i, n)),
        (Reason.MISSING_FIELD, "duration_s", "required for voice", is_voice & ~P("duration_s")),
        (Reason.BAD_VALUE, "bytes_up", "not an integer", bad_up),
        (Reason.NEGATIVE, "bytes_up", "negative", up_neg),
        (Reason.OUT_OF_RANGE, "bytes_up", "more than 1 TiB in one record", up_high),
        (Reason.BAD_VALUE, "bytes_up", up_i.inexact_what, _inexact(up_i, n)),
        (Reason.BAD_VALUE, "bytes_down", "not an integer", bad_down),
        (Reason.NEGATIVE, "bytes_down", "negative", down_neg),
        (Reason.OUT_OF_RANGE, "bytes_down", "more than 1 TiB in one record", down_high),
        (Reason.BAD_VALUE, "bytes_down", down_i.inexact_what, _inexact(down_i, n)),
        (Reason.MISSING_FIELD, "bytes_down", "bytes_up or bytes_down required for data", is_data & ~P("bytes_up") & ~P("bytes_down")),
        (Reason.MISSING_FIELD, "offer_id", "required for vas", is_vas & ~P("offer_id")),
        (Reason.BAD_AMOUNT, "amount", "not a decimal amount like 6.00", amounts.bad_format),
        (Reason.NEGATIVE, "amount", "negative", amounts.negative),
        (Reason.MISSING_FIELD, "amount", "required for vas", is_vas & ~P("amount")),
        (Reason.BAD_AMOUNT, "currency", "not a known ISO 4217 currency", amounts.bad_currency),
        (Reason.MISSING_FIELD, "currency", "required with an amount", P("amount") & ~P("currency")),
        (Reason.BAD_AMOUNT, "amount", "more decimals than the currency's minor unit", amounts.too_precise),
        (Reason.BAD_VALUE, "roaming_country", "not an ISO 3166-1 alpha-2 country code",
         _bad_country(cols.get("roaming_country"), P("roaming_country"))),
        *((Reason.BAD_VALUE, name, f"longer than {MAX_ID} characters", _too_long(cols.get(name), P(name), MAX_ID))
          for name in ("imsi", "vpmn", "apn")),
        (Reason.BAD_AMOUNT, whole.charge_field, "not a decimal amount like 0.25000 (money is never a float)",
         whole.bad_format),
        (Reason.NEGATIVE, whole.charge_field, "negative", whole.negative),
        (Reason.OUT_OF_RANGE, whole.charge_field, f"more than {_WHOLESALE_DIGITS} significant digits",
         whole.too_long),
        (Reason.BAD_AMOUNT, whole.currency_field, "not an ISO 4217 currency code (three capital letters; XDR for "
         "SDR)", whole.bad_currency),
        (Reason.MISSING_FIELD, whole.currency_field, f"required with {whole.charge_field}", whole.no_currency),
        (Reason.BAD_VALUE, "seq", "not an integer", bad_seq),
        (Reason.NEGATIVE, "seq", "negative", seq_neg),
        (Reason.OUT_OF_RANGE, "seq", "larger than a 64-bit integer", seq_high),
        (Reason.BAD_VALUE, "seq", seq_i.inexact_what, _inexact(seq_i, n)),
        (Reason.BAD_VALUE, "final", "not true or false", bad_final),
    ]
    code = np.full(n, -1, dtype=np.int16)
    refused = False
    for i, (_, _, _, mask) in enumerate(checks):
        if not mask.any():  # the usual case: a cheap scan, nothing to mark
            continue
        hit = mask & (code < 0) if refused else mask
        code[hit] = i
        refused = True
    rejects = list(batch.rejects)
    if refused:
        bad_rows = np.flatnonzero(code >= 0)
        rejects.extend(_rejects(batch, cols, bad_rows, code, checks, file))
        if batch.rejects:
            rejects.sort(key=lambda r: r.position)  # the reader's and validation's, in file order
        good = np.flatnonzero(code < 0)
    else:
        good = np.arange(n)
    keep = None if len(good) == n else pa.array(good)

    def take(a: pa.Array) -> pa.Array:
        return a if keep is None else pc.take(a, keep)

    # data records: a missing direction of volume is zero
    if is_data.any():
        up = pc.if_else(pa.array(is_data & ~P("bytes_up")), pa.scalar(0, pa.int64()), up)
        down = pc.if_else(pa.array(is_data & ~P("bytes_down")), pa.scalar(0, pa.int64()), down)
    src = cols.text("source")
    if not P("source").all():
        src = pc.if_else(pa.array(P("source")), src, pa.scalar(source, pa.string()))
    out: dict[str, pa.Array] = {
        "record_id": cols.text("record_id"),
        "source": src,
        "msisdn": cols.text("msisdn"),
        "kind": kind_v,
        "direction": _absent_as_null(dir_v, P("direction"), cols.has_empty("direction")),
        "started_at": ts,
        "duration_s": dur,
        "bytes_up": up,
        "bytes_down": down,
        "peer": cols.text("peer"),
        "offer_id": cols.text("offer_id"),
        "amount_minor": amounts.minor,
        "currency": amounts.currency,
        "roaming_country": cols.text("roaming_country"),
        "cell_id": cols.text("cell_id"),
        "imei": cols.text("imei"),
        "session_id": cols.text("session_id"),
        "imsi": cols.text("imsi"),
        "vpmn": cols.text("vpmn"),
        "apn": cols.text("apn"),
        "wholesale_charge_units": whole.units,
        "wholesale_charge_decimals": whole.decimals,
        "wholesale_charge_currency": whole.currency,
    }
    arrays = []
    for f in CLEAN_USAGE_SCHEMA:
        if f.name == "parts":
            arrays.append(pa.array(np.ones(len(good), dtype=np.int32)))
        elif f.name == "incomplete":
            arrays.append(pa.array(np.zeros(len(good), dtype=bool)))
        else:
            a = out[f.name]
            arrays.append(take(a if a.type == f.type else a.cast(f.type)))
    pos = cols.get(POS)
    arrays.append(take(pos.cast(pa.int64())) if pos is not None else pa.array(good + 1, type=pa.int64()))
    arrays.append(take(seq))
    arrays.append(take(final))
    schema = pa.schema([*CLEAN_USAGE_SCHEMA, pa.field(POS, pa.int64()), pa.field(SEQ, pa.int64()),
                        pa.field(FINAL, pa.bool_())])
    clean = pa.Table.from_arrays(arrays, schema=schema)
    raw_of = None
    if cols.get("session_id") is not None and P("session_id")[good].any():

        def raw_of(clean_rows: Sequence[int]) -> list[bytes]:
            rows = good[np.asarray(clean_rows, dtype=np.int64)]
            return _raw_bytes(batch, cols, rows, _positions(cols, rows))

    return Validated(clean, rejects, raw_of)


# The countries a catalog's roaming zone may list (``core.countries``), and ZZ, ISO's user-assigned "unknown
# country": what a TAP file's sender that is no country (a test PLMN) is read as, priced in the catalog's fallback
# roaming zone (docs/formats.md)
UNKNOWN_COUNTRY = "ZZ"
@functools.cache
def _country_set() -> pa.Array:
    """Made on first use: ``pa.array`` at import time would load pyarrow's pandas shim (about 0.3 s for every
    command and worker process that imports mediation)."""
    return pa.array(sorted({*COUNTRIES, UNKNOWN_COUNTRY}), type=pa.string())


def _bad_country(arr: pa.Array | None, present: np.ndarray) -> np.ndarray:
    """A country that is not an assigned ISO 3166-1 alpha-2 code (``XX``, ``UK``, lower case), nor ``ZZ``, the
    explicit "unknown": the shape alone would let a typo through, to be priced in the fallback roaming zone as if it
    were a country."""
    if arr is None or not present.any():
        return np.zeros(len(present), dtype=bool)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    ok = pc.is_in(arr, value_set=_country_set())
    return present & ~_bool_np(ok)


def _value_text(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _positions(cols: _Columns, rows: np.ndarray) -> list[int]:
    pos_col = cols.get(POS)
    return pc.take(pos_col, pa.array(rows)).to_pylist() if pos_col is not None else (rows + 1).tolist()


def _raw_bytes(batch: RawBatch, cols: _Columns, rows: np.ndarray, positions: list[int]) -> list[bytes]:
    """The original bytes of rows of the batch: kept by the reader, sliced from its text, or (a columnar
    source, Parquet) the record itself as JSON."""
    sel = pa.array(rows, type=pa.int64())
    raw_col = cols.get(RAW)
    if raw_col is not None:
        return [b if isinstance(b, bytes) else (b.encode() if isinstance(b, str) else b"")
                for b in pc.take(raw_col, sel).to_pylist()]
    if batch.raw_of is not None:
        return batch.raw_of(positions)
    sub = batch.table.take(sel).drop_columns([c for c in (POS, RAW) if c in batch.table.column_names])
    return [json.dumps(r, default=str, ensure_ascii=False).encode() for r in sub.to_pylist()]


def _rejects(batch: RawBatch, cols: _Columns, rows: np.ndarray, code: np.ndarray,
             checks: list[tuple[Reason, str, str, np.ndarray]], file: str) -> list[Reject]:
    sel = pa.array(rows)
    positions = _positions(cols, rows)
    raws = _raw_bytes(batch, cols, rows, positions)
    fields_needed = {checks[int(code[r])][1] for r in rows}

    def written(f: str) -> pa.Array | None:  # what the file wrote, when a reader converted it (``WRITTEN``)
        w = cols.get(WRITTEN + f)
        return w if w is not None else cols.get(f)

    values = {f: pc.take(w, sel).to_pylist() if (w := written(f)) is not None else [None] * len(rows)
              for f in fields_needed}
    out = []
    for i, r in enumerate(rows):
        reason, fld, what, _ = checks[int(code[r])]
        v = values[fld][i]
        msg = f"{fld}: {what}" if reason is Reason.MISSING_FIELD or v is None else f"{fld}: {what}: {_value_text(v)}"
        out.append(Reject(file, int(positions[i]), reason.value, fld, msg, raws[i]))
    return out
