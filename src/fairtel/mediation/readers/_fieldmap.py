"""A TOML field map: any delimited text layout read as canonical usage records, without code.

    [input]
    delimiter = ","            # one character ("\\t" for tabs)
    quote = '"'                # "" for none
    header = false             # true: the first line names the columns
    encoding = "gb18030"       # optional; default: each line UTF-8 when valid, else GB18030
    skip_lines = 0             # lines before the header or data
    timezone = "Asia/Shanghai" # for timestamps written without an offset
    timestamp_format = "%Y-%m-%d %H:%M:%S"   # strptime, "epoch" or "epoch_ms"; default RFC 3339

    [fields]                   # canonical field = a column (0-based index or header name) or a table:
    msisdn = 1
    peer = { column = 2, replace = ["^00", ""] }          # regex replace
    kind = { value = "voice" }                            # a constant
    record_id = { template = "{16}-{18}" }                # columns joined with literal text
    duration_s = { column = "billsec", unit = "ms" }      # s, ms (rounded up), min, h; bytes: B, kB, KiB, MB, MiB
    started_at = { column = 9, format = "%d.%m.%Y %H:%M:%S", timezone = "UTC" }
    final = { column = 10, map = { partial = "false", complete = "true" } }   # unmapped values pass through

    [[filters]]                # records whose column is not in keep are refused with this reason
    column = "disposition"
    keep = ["ANSWERED"]
    reason = "not_answered"    # default "filtered"

Refused by a filter or an unreadable timestamp, a record is a reject with its original line, like any other.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.errors import Problem
from fairtel.core.time import zone
from fairtel.mediation.readers._base import POS, WRITTEN, RawBatch, Reject
from fairtel.mediation.readers._delimited import TextDialect, read_delimited, read_layout
from fairtel.mediation.readers._errors import FieldMapError, UnreadableFileError

_DURATION_UNITS = {"s": (1, 1), "ms": (1, 1000), "min": (60, 1), "h": (3600, 1)}
_BYTE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_VOLUME_FIELDS = ("bytes_up", "bytes_down")
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class FieldRule:
    field: str
    column: int | str | None = None
    value: str | None = None
    template: list[tuple[str, int | str | None]] | None = None  # (literal, column)
    replace: tuple[str, str] | None = None
    mapping: dict[str, str] | None = None
    unit: str | None = None
    format: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    column: int | str
    keep: frozenset[str]
    reason: str = "filtered"


@dataclass(frozen=True, slots=True)
class FieldMap:
    name: str
    dialect: TextDialect
    columns: int | None
    timezone: str
    timestamp_format: str | None
    rules: tuple[FieldRule, ...]
    filters: tuple[Filter, ...] = field(default=())

    def referenced(self) -> set[int | str]:
        out: set[int | str] = set()
        for r in self.rules:
            if r.column is not None:
                out.add(r.column)
            for _, c in r.template or []:
                if c is not None:
                    out.add(c)
        out.update(f.column for f in self.filters)
        return out


def _column(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a column is a 0-based index or a header name, not {value!r}")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"column index must be >= 0, got {value}")
    return value


def _template(text: str) -> list[tuple[str, int | str | None]]:
    out: list[tuple[str, int | str | None]] = []
    for literal, name, spec, conv in string.Formatter().parse(text):
        if spec or conv:
            raise ValueError(f"template {text!r}: no format specs, only {{column}}")
        col: int | str | None = None
        if name is not None:
            col = int(name) if name.isdigit() else name
        out.append((literal, col))
    return out


def parse_fieldmap(data: dict[str, Any], *, name: str, file: str = "<fieldmap>", text: str | None = None) -> FieldMap:
    """A FieldMap from parsed TOML; every problem is reported at once, with the line of the key it concerns when
    the TOML ``text`` is given (the line of its table for a key that is missing)."""
    problems: list[Problem] = []

    def bad(where: str | None, msg: str) -> None:
        problems.append(Problem(file, None, where, msg, code="fieldmap_invalid"))

    inp = data.get("input", {})
    if not isinstance(inp, dict):
        bad("input", "must be a table")
        inp = {}
    unknown = set(inp) - {"delimiter", "quote", "header", "encoding", "skip_lines", "timezone", "timestamp_format",
                          "columns"}
    for k in sorted(unknown):
        bad(f"input.{k}", "unknown setting")
    delimiter = inp.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        bad("input.delimiter", "must be one character")
        delimiter = ","
    quote = inp.get("quote", '"')
    if not isinstance(quote, str) or len(quote) > 1:
        bad("input.quote", 'must be one character or ""')
        quote = '"'
    encoding = inp.get("encoding")
    if encoding is not None:
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            bad("input.encoding", f"unknown encoding {encoding!r}")
            encoding = None
    tz = inp.get("timezone", "UTC")
    try:
        zone(tz)
    except Exception:
        bad("input.timezone", f"unknown time zone {tz!r}")
        tz = "UTC"
    skip = inp.get("skip_lines", 0)
    if not isinstance(skip, int) or skip < 0:
        bad("input.skip_lines", "must be an integer >= 0")
        skip = 0
    columns = inp.get("columns")
    if columns is not None and (not isinstance(columns, int) or columns < 1):
        bad("input.columns", "must be an integer >= 1")
        columns = None
    dialect = TextDialect(delimiter=delimiter, quote=quote or None, header=bool(inp.get("header", False)),
                          encoding=encoding, skip_lines=skip)
    rules: list[FieldRule] = []
    fields = data.get("fields", {})
    if not isinstance(fields, dict) or not fields:
        bad("fields", "a [fields] table mapping canonical fields is required")
        fields = {}
    for fname, spec in fields.items():
        where = f"fields.{fname}"
        if fname not in USAGE_FIELDS:
            bad(where, f"not a canonical usage field (known: {', '.join(USAGE_FIELDS)})")
            continue
        try:
            rules.append(_rule(fname, spec))
        except (ValueError, TypeError) as exc:
            bad(where, str(exc))
    for req in ("record_id", "msisdn", "kind", "started_at"):
        if req not in fields:
            bad(f"fields.{req}", "required field has no rule")
    filters: list[Filter] = []
    raw_filters = data.get("filters", [])
    if not isinstance(raw_filters, list):
        bad("filters", "must be an array of tables ([[filters]])")
        raw_filters = []
    for i, f in enumerate(raw_filters):
        where = f"filters[{i}]"
        try:
            keep = f["keep"]
            if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
                raise ValueError("keep must be a list of strings")
            reason = f.get("reason", "filtered")
            if not isinstance(reason, str) or not reason.replace("_", "").isalnum():
                raise ValueError("reason must be a code like not_answered")
            filters.append(Filter(_column(f["column"]), frozenset(keep), reason))
        except KeyError as exc:
            bad(where, f"missing {exc.args[0]}")
        except (ValueError, TypeError) as exc:
            bad(where, str(exc))
    for k in sorted(set(data) - {"input", "fields", "filters"}):
        bad(k, "unknown section")
    fmt = inp.get("timestamp_format")
    if fmt is not None and not isinstance(fmt, str):
        bad("input.timestamp_format", "must be a string")
        fmt = None
    if problems:
        if text is not None:
            problems = _with_lines(problems, text)
        raise FieldMapError(problems, what=f"field map {file}")
    return FieldMap(name, dialect, columns, tz, fmt, tuple(rules), tuple(filters))


def _with_lines(problems: list[Problem], text: str) -> list[Problem]:
    """``problems`` with the line of each one's key (tomllib keeps no positions: the catalog's scanner finds
    them), in the order of the file."""
    from fairtel.catalog._locate import join, line_of, locate  # only for a field map that has problems

    lines = locate(text)

    def path(where: str) -> str:  # "fields.my key" as the scanner writes it: fields."my key"
        head, dot, rest = where.partition(".")
        return join(head, rest) if dot and "[" not in head else where

    out = [Problem(p.file, line_of(lines, path(p.field)) if p.field else None, p.field, p.message, p.code)
           for p in problems]
    return sorted(out, key=lambda p: p.line or 0)


def _rule(fname: str, spec: Any) -> FieldRule:
    if isinstance(spec, int | str) and not isinstance(spec, bool):
        return FieldRule(fname, column=_column(spec))
    if not isinstance(spec, dict):
        raise ValueError("a column, or a table with column / value / template")
    keys = set(spec)
    unknown = keys - {"column", "value", "template", "replace", "map", "unit", "format", "timezone"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    sources = [k for k in ("column", "value", "template") if k in spec]
    if len(sources) != 1:
        raise ValueError("exactly one of column, value or template")
    replace = spec.get("replace")
    if replace is not None and (not isinstance(replace, list) or len(replace) != 2
                                or not all(isinstance(x, str) for x in replace)):
        raise ValueError('replace is ["regex", "replacement"]')
    mapping = spec.get("map")
    if mapping is not None and (not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values())):
        raise ValueError("map is a table of text -> text")
    unit = spec.get("unit")
    if unit is not None:
        if fname == "duration_s" and unit not in _DURATION_UNITS:
            raise ValueError(f"unit for duration_s is one of {', '.join(_DURATION_UNITS)}")
        if fname in _VOLUME_FIELDS and unit.lower() not in _BYTE_UNITS:
            raise ValueError(f"unit for {fname} is one of B, kB, KiB, MB, MiB, GB, GiB")
        if fname != "duration_s" and fname not in _VOLUME_FIELDS:
            raise ValueError("unit applies to duration_s, bytes_up and bytes_down")
    tz = spec.get("timezone")
    if tz is not None:
        zone(tz)
    value = spec.get("value")
    return FieldRule(
        fname,
        column=_column(spec["column"]) if "column" in spec else None,
        value=None if value is None else str(value).lower() if isinstance(value, bool) else str(value),
        template=_template(spec["template"]) if "template" in spec else None,
        replace=(replace[0], replace[1]) if replace else None,
        mapping={str(k): v for k, v in mapping.items()} if mapping else None,
        unit=unit,
        format=spec.get("format"),
        timezone=tz,
    )


BUNDLED = "fairtel.mediation.fieldmaps"


def bundled_fieldmaps() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files(BUNDLED).iterdir()
                  if p.name.endswith(".toml"))


def load_fieldmap(ref: str | Path) -> FieldMap:
    """A field map from a TOML file, or a bundled one by name (``cgrates-partial``)."""
    path = Path(ref)
    if path.is_file():
        text, file, name = path.read_text(encoding="utf-8"), str(path), path.stem
    else:
        res = resources.files(BUNDLED) / f"{ref}.toml"
        if not res.is_file():
            raise FieldMapError([Problem(str(ref), None, None, f"no such file and no bundled field map; bundled: "
                                         f"{', '.join(bundled_fieldmaps())}", code="fieldmap_invalid")],
                                what="field map")
        text, file, name = res.read_text(encoding="utf-8"), f"{BUNDLED}/{ref}.toml", str(ref)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\s*\(at line (\d+), column \d+\)", str(exc))
        message = str(exc).replace(m.group(0), "") if m else str(exc)
        raise FieldMapError([Problem(file, int(m.group(1)) if m else None, None, f"not TOML: {message}",
                                     code="fieldmap_invalid")], what=f"field map {file}") from None
    return parse_fieldmap(data, name=name, file=file, text=text)


def _present(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.greater(pc.binary_length(arr), 0).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


class FieldMapReader:
    """Reads a delimited file through a FieldMap. ``--format fieldmap:PATH`` (or a bundled map's name)."""

    name: ClassVar[str] = "fieldmap"

    def __init__(self, fmap: FieldMap) -> None:
        self.fmap = fmap

    @property
    def label(self) -> str:
        return f"fieldmap:{self.fmap.name}"

    def sniff(self, head: bytes, path: Path) -> bool:
        return False  # chosen explicitly, never detected

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        fm = self.fmap
        layout = read_layout(path, fm.dialect)
        header = layout.header
        ncols = fm.columns or layout.ncols
        names = header or [f"c{i}" for i in range(ncols)]
        if not names or ncols == 0:
            return
        lookup: dict[int | str, str] = {}
        missing = []
        for ref in fm.referenced():
            if isinstance(ref, int):
                if ref >= len(names):
                    missing.append(str(ref))
                else:
                    lookup[ref] = names[ref]
            elif header is not None and ref in header:
                lookup[ref] = ref
            else:
                missing.append(repr(ref))
        if missing:
            raise UnreadableFileError(
                f"the field map {fm.name} names column(s) {', '.join(sorted(missing))} but the file has "
                f"{len(names)} column(s){': ' + ', '.join(header) if header else ''}")
        keep = sorted(set(lookup.values()), key=names.index)
        for batch in read_delimited(path, dialect=fm.dialect, batch_size=batch_size, layout=layout, names=names,
                                    keep=keep):
            yield self._map(batch, lookup, str(path))

    def _map(self, batch: RawBatch, lookup: dict[int | str, str], file: str) -> RawBatch:
        fm = self.fmap
        t = batch.table
        n = t.num_rows
        pos = t.column(POS).combine_chunks()

        def col(ref: int | str) -> pa.Array:
            return t.column(lookup[ref]).combine_chunks()

        # mask, reason, field, message, and the values to quote after it (what the file wrote) or None
        refuse: list[tuple[np.ndarray, str, str | None, str, pa.Array | None]] = []
        for flt in fm.filters:
            values = col(flt.column)
            kept = np.asarray(pc.is_in(values, value_set=pa.array(sorted(flt.keep), pa.string()))
                              .fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            refuse.append((~kept, flt.reason, None, f"column {flt.column!r} is not one of {', '.join(sorted(flt.keep))}",
                           None))
        out: dict[str, pa.Array] = {}
        written: dict[str, pa.Array] = {}
        for rule in fm.rules:
            arr = self._value(rule, col, n)
            if rule.field == "started_at":
                fmt = rule.format or fm.timestamp_format
                original = arr
                arr, bad, impossible, gap = self._timestamp(rule, arr)
                what = (f"not an integer count of {'seconds' if fmt == 'epoch' else 'milliseconds'} since 1970 "
                        "within the range of a timestamp") if fmt in ("epoch", "epoch_ms") else f"does not match {fmt!r}"
                refuse.append((bad, "bad_timestamp", "started_at", f"started_at: {what}", original))
                refuse.append((impossible, "bad_timestamp", "started_at",
                               f"started_at: no such date or time (read with {fmt!r})", original))
                tz = rule.timezone or fm.timezone
                refuse.append((gap, "bad_timestamp", "started_at",
                               f"started_at: no such local time in {tz} (skipped when the clocks go forward)", original))
                if fmt is not None:
                    written[rule.field] = original
            elif rule.column is not None and (rule.unit or rule.replace or rule.mapping):
                written[rule.field] = col(rule.column)  # what validation quotes when it refuses the value
            out[rule.field] = arr
        columns = {**out, **{f"{WRITTEN}{k}": v for k, v in written.items()}, POS: pos}
        table = pa.table(columns)
        rejects = list(batch.rejects)
        code = np.full(n, -1, dtype=np.int32)
        for i, (mask, *_rest) in enumerate(refuse):
            code[(code < 0) & mask] = i
        gone = np.flatnonzero(code >= 0)
        if len(gone):
            positions = pc.take(pos, pa.array(gone)).to_pylist()
            raws = batch.raw_of(positions) if batch.raw_of is not None else [b""] * len(gone)
            for j, r in enumerate(gone):
                _, reason, fld, msg, values = refuse[int(code[r])]
                if values is not None and (v := values[int(r)].as_py()) is not None:
                    msg = f"{msg}: {_quoted(v)}"
                rejects.append(Reject(file, int(positions[j]), reason, fld, msg, raws[j]))
            table = table.filter(pa.array(code < 0))
        return RawBatch(table, rejects, batch.raw_of)

    def _value(self, rule: FieldRule, col: Any, n: int) -> pa.Array:
        if rule.value is not None:
            arr = pa.array([rule.value] * n, type=pa.string())
        elif rule.template is not None:
            parts: list[Any] = []
            for literal, ref in rule.template:
                if literal:
                    parts.append(pa.scalar(literal, pa.string()))
                if ref is not None:
                    parts.append(col(ref))
            if not parts:
                arr = pa.array([""] * n, type=pa.string())
            elif len(parts) == 1:
                arr = parts[0] if isinstance(parts[0], pa.Array) else pa.array([parts[0].as_py()] * n, pa.string())
            else:
                arr = pc.binary_join_element_wise(*parts, pa.scalar("", pa.string()), null_handling="replace",
                                                  null_replacement="")
        else:
            assert rule.column is not None
            arr = col(rule.column)
        if rule.replace is not None:
            arr = pc.replace_substring_regex(arr, pattern=rule.replace[0], replacement=rule.replace[1])
        if rule.mapping:
            keys = list(rule.mapping)
            idx = pc.index_in(arr, value_set=pa.array(keys, pa.string()))
            mapped = pc.take(pa.array([rule.mapping[k] for k in keys], pa.string()), idx)
            arr = pc.if_else(idx.is_valid(), mapped, arr)
        if rule.unit is not None:
            arr = self._scale(rule, arr)
        return arr

    @staticmethod
    def _scale(rule: FieldRule, arr: pa.Array) -> pa.Array:
        """Unit conversion on the integers; text that is not an integer passes through for validation."""
        import polars as pl

        ints = pl.Series(arr).str.strip_chars().cast(pl.Int64, strict=False)
        if rule.field == "duration_s":
            mul, div = _DURATION_UNITS[rule.unit or "s"]
            # ms: any started second counts. Rounded away from zero, so that a negative count stays negative
            # (-1 ms is -1 s, refused as negative with the value as written) rather than rounding up to 0
            scaled = ((ints.abs() * mul + (div - 1)) // div) * ints.sign() if div > 1 else ints * mul
        else:
            mul, div = _BYTE_UNITS[(rule.unit or "b").lower()], 1
            scaled = ints * mul
        # int64 arithmetic wraps: a count too large to scale (2**34 GiB would wrap to 0) becomes the largest
        # int64 of its sign instead, which validation refuses as out of range (or negative)
        limit = (_INT64_MAX - (div - 1)) // mul
        if bool(((ints > limit) | (ints < -limit)).any()):
            n = len(ints)
            scaled = pl.Series([_INT64_MAX] * n, dtype=pl.Int64).zip_with((ints > limit).fill_null(False), scaled)
            scaled = pl.Series([-_INT64_MAX] * n, dtype=pl.Int64).zip_with((ints < -limit).fill_null(False), scaled)
        text = scaled.cast(pl.String).to_arrow()
        if not isinstance(text, pa.Array):
            text = text.combine_chunks()
        return pc.if_else(pc.is_valid(text), text.cast(pa.string()), arr)

    def _timestamp(self, rule: FieldRule, arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
        """UTC timestamps, the values that do not read as the format, those that read as a date or time that
        does not exist (31.02., a 61st second): Arrow's strptime rolls those over into the next month or minute,
        which would charge a call on a day it was not made; and the local times the zone skips (in the gap when
        the clocks go forward), which no call was made at."""
        fmt = rule.format or self.fmap.timestamp_format
        present = _present(arr)
        none = np.zeros(len(arr), dtype=bool)
        if fmt is None:
            return arr, none, none, none  # RFC 3339 text: validation parses it
        tz = rule.timezone or self.fmap.timezone
        impossible = gap = none
        if fmt in ("epoch", "epoch_ms"):
            import polars as pl

            ints = pl.Series(arr).str.strip_chars().cast(pl.Int64, strict=False).to_arrow()
            if not isinstance(ints, pa.Array):
                ints = ints.combine_chunks()
            ints = ints.cast(pa.int64())
            scale = 1_000_000 if fmt == "epoch" else 1_000
            # int64 arithmetic wraps: a count too large to scale to microseconds (one that wraps can land on a
            # plausible time) is no time at all, refused like any other unreadable value
            limit = _INT64_MAX // scale
            fits = pc.and_(pc.less_equal(ints, limit), pc.greater_equal(ints, -limit))
            ints = pc.if_else(fits, ints, pa.scalar(None, pa.int64()))
            ts = pc.multiply(ints, scale).cast(pa.timestamp("us", tz="UTC"))
        else:
            text = pc.utf8_trim_whitespace(arr)
            parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
            impossible = _rolled_over(text, parsed, fmt)
            if impossible.any():
                parsed = pc.if_else(pa.array(~impossible), parsed, pa.scalar(None, parsed.type))
            if parsed.type.tz is None:
                # a wall-clock time the zone skips (02:30 when the clocks go forward at 02:00) names no instant:
                # read both ways, the two readings differ only for such a time, which is refused. A time the zone
                # repeats (02:30 when they go back at 03:00) is read as its first occurrence, in summer time, as
                # the switch readers read it
                local = parsed
                parsed = pc.assume_timezone(local, timezone=tz, ambiguous="earliest", nonexistent="earliest")
                later = pc.assume_timezone(local, timezone=tz, ambiguous="earliest", nonexistent="latest")
                gap = _bools(pc.not_equal(parsed, later))
                if gap.any():
                    parsed = pc.if_else(pa.array(~gap), parsed, pa.scalar(None, parsed.type))
            ts = parsed.cast(pa.timestamp("us", tz="UTC"))
        bad = present & ~impossible & ~gap & ~np.asarray(ts.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return ts, bad, impossible, gap


def _quoted(value: object) -> str:
    s = repr(value)
    return s if len(s) <= 80 else s[:77] + "..."


_OFFSET_AT_END = r"\s*(?:[Zz]|[+-]\d{2}:?\d{2})$"


def _normalised(text: pa.Array) -> pa.Array:
    """Text compared for what it says, not how: case, runs of white space and leading zeros of numbers aside
    (``1.3.2026`` and ``01.03.2026``, ``MAR`` and ``Mar`` say the same). Polars: about twice as fast as Arrow's
    regex kernels here."""
    import polars as pl

    out = (pl.Series(text).str.to_lowercase().str.replace_all(r"\s+", " ")
           .str.replace_all(r"(^|[^0-9])0+([0-9])", "${1}${2}").to_arrow())
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _rolled_over(text: pa.Array, parsed: pa.Array, fmt: str) -> np.ndarray:
    """The rows Arrow's strptime read as a time other than the one written: it takes a day past the end of the
    month, or a 60th or 61st second, and carries it into the next month or minute (``31.02.2026`` reads as
    3 March), where Python's strptime, and every other reader, refuses the value.

    Vectorised for the usual file: each time read is written back in the format and compared with the text (what
    it says: ``_normalised``); only the few that differ, or every one when the format's offset (``%z``) is not at
    its end, are read again one by one with Python's strptime, which checks days and seconds."""
    valid = np.asarray(parsed.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not valid.any():
        return np.zeros(len(parsed), dtype=bool)
    suspect = valid  # unless the format can be written back
    local_fmt, local_text = fmt, text
    if "%z" in fmt:
        if not fmt.rstrip().endswith("%z"):
            local_fmt = ""
        else:  # the wall clock as written: the same text without its offset
            local_fmt = fmt.rstrip().removesuffix("%z").rstrip()
            local_text = pc.replace_substring_regex(text, pattern=_OFFSET_AT_END, replacement="")
    if local_fmt:
        if "%z" in fmt:
            wall = pc.strptime(local_text, format=local_fmt, unit="s", error_is_null=True)
        else:
            wall = parsed.cast(pa.timestamp("s"), safe=False)
        back = _strftime(wall, local_fmt)
        same = _bools(pc.equal(back, local_text))
        differ = np.flatnonzero(valid & ~same)
        unpadded = _UNPADDED.sub(r"%-\1", local_fmt)
        if len(differ) and unpadded != local_fmt:  # as a spreadsheet writes it: 2020/2/10 9:41
            pick = pa.array(differ)
            try:
                alike = _bools(pc.equal(_strftime(pc.take(wall, pick), unpadded), pc.take(local_text, pick)))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                alike = np.zeros(len(differ), dtype=bool)
            same[differ[alike]] = True
            differ = differ[~alike]
        if len(differ):  # written another way still (another case, other zeros): compare what they say
            pick = pa.array(differ)
            same[differ] = _bools(pc.equal(_normalised(pc.take(back, pick)), _normalised(pc.take(local_text, pick))))
        suspect = valid & ~same
    out = np.zeros(len(parsed), dtype=bool)
    rows = np.flatnonzero(suspect)
    if len(rows):
        texts = pc.take(text, pa.array(rows)).to_pylist()
        values = pc.take(parsed, pa.array(rows)).to_pylist()
        for r, t, v in zip(rows, texts, values, strict=True):
            out[r] = not _exists(t, fmt, v)
    return out


_UNPADDED = re.compile(r"%([dmHI])")  # day, month and hour without their leading zero: %-d (chrono)


def _bools(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _strftime(ts: pa.Array, fmt: str) -> pa.Array:
    """Times written in ``fmt``: by Polars (ten times as fast as Arrow's strftime), or Arrow for a directive
    Polars does not know."""
    import polars as pl

    try:
        out = pl.Series(ts).dt.strftime(fmt).to_arrow()
    except Exception:  # a directive chrono does not write
        return pc.strftime(ts, format=fmt)
    return (out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out).cast(pa.string())


def _exists(text: str, fmt: str, read: datetime) -> bool:
    """Whether ``text`` is a date and time that exists and Arrow read it as such (``read``). A value Python's
    strptime cannot read for other reasons than its ranges (a directive it lacks) is left as Arrow read it."""
    try:
        value = datetime.strptime(text, fmt)
    except ValueError as exc:
        message = str(exc)
        return not ("out of range" in message or "must be in" in message)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if read.tzinfo is not None:
        read = read.astimezone(UTC).replace(tzinfo=None)
    return value == read
