"""The canonical usage record (DESIGN.md) as CSV with a header, JSON Lines or Parquet.

CSV and Parquet are the fast paths (Arrow all the way); JSON Lines is read line by line, numbers kept as the
text they were written as (never through a float)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.contracts import USAGE_FIELDS, USAGE_REQUIRED
from fairtel.mediation.readers._base import POS, RAW, RawBatch, Reject
from fairtel.mediation.readers._delimited import (
    BOMS,
    HEAD_BYTES,
    TextDialect,
    decode_line,
    decode_text,
    detect_encoding,
    encoding_name,
    read_delimited,
    read_layout,
)
from fairtel.mediation.readers._errors import UnreadableFileError

_FIELDS = frozenset(USAGE_FIELDS)


def _canonical_name(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def _strip_bom(head: bytes) -> bytes:
    for bom, _ in BOMS:
        if head.startswith(bom):
            return head[len(bom):]
    return head


class CsvReader:
    """Canonical CSV: a header naming canonical fields (any order, extra columns ignored), comma separated."""

    name: ClassVar[str] = "csv"

    def sniff(self, head: bytes, path: Path) -> bool:
        body = _strip_bom(head)
        first = decode_line(body.split(b"\n", 1)[0].rstrip(b"\r"))  # an extra column may be named in GBK
        if first is None:
            return False
        return set(USAGE_REQUIRED) <= {_canonical_name(n) for n in first.split(",")}

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        dialect = TextDialect()
        layout = read_layout(path, dialect)
        header = [_canonical_name(h) for h in (layout.header or [])]
        if not header:
            return  # an empty file: nothing to read
        missing = [f for f in USAGE_REQUIRED if f not in header]
        if missing:
            raise UnreadableFileError(
                f"line {layout.first_line - 1}: the header lacks required field(s) {', '.join(missing)}; "
                f"it names {', '.join(h for h in header if h) or 'nothing'}"
            )
        twice = sorted({h for h in header if h in _FIELDS and header.count(h) > 1})
        if twice:  # names told apart only by case or quotes (Record_ID, record_id) name one field
            raise UnreadableFileError(
                f"line {layout.first_line - 1}: the header names field(s) {', '.join(twice)} more than once")
        names = [h if h in _FIELDS else f"_extra{i}" for i, h in enumerate(header)]
        keep = [n for n in names if n in _FIELDS]
        yield from read_delimited(path, dialect=dialect, batch_size=batch_size, layout=layout, names=names, keep=keep)


class ParquetReader:
    """Canonical Parquet: columns named after canonical fields, strings or native types. Positions are
    1-based row numbers."""

    name: ClassVar[str] = "parquet"

    def sniff(self, head: bytes, path: Path) -> bool:
        return head.startswith(b"PAR1")

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        try:
            # pre_buffer=False: read column chunks as they are decoded rather than a row group's whole compressed
            # bytes at once (hundreds of MB held for a large file)
            pf = pq.ParquetFile(path, pre_buffer=False)
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFileError(f"not a readable Parquet file: {exc}") from None
        names = [n for n in pf.schema_arrow.names if n in _FIELDS]
        missing = [f for f in USAGE_REQUIRED if f not in names]
        if missing:
            raise UnreadableFileError(f"the Parquet schema lacks required column(s) {', '.join(missing)}")
        row = 1
        try:
            # one thread: ingest already decodes on its read-ahead thread, beside the validating one
            for rb in pf.iter_batches(batch_size=batch_size, columns=names, use_threads=False):
                pos = pa.array(np.arange(row, row + rb.num_rows, dtype=np.int64))
                row += rb.num_rows
                yield RawBatch(pa.Table.from_batches([rb]).append_column(POS, pos))
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFileError(f"Parquet file damaged near row {row}: {exc}") from None


def _as_text(value: Any) -> str | None:
    """A JSON value as the text of a canonical field; numbers arrive here already as their literal text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise TypeError("dict" if isinstance(value, dict) else type(value).__name__)  # a JSON object is an _Object


class _Object(dict[str, Any]):
    """A JSON object, with the canonical keys it holds more than once (JSON leaves a repeated key to the reader:
    Python's own decoder would keep the last value without a word)."""

    repeated: tuple[str, ...] = ()


_CANONICAL = frozenset(USAGE_FIELDS)


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):  # other keys are ignored, so only a repeated canonical key is ambiguous
        seen: set[str] = set()
        repeated: dict[str, None] = {}
        for k, _ in pairs:
            if k in seen and k in _CANONICAL:
                repeated[k] = None
            seen.add(k)
        obj.repeated = tuple(repeated)
    return obj


def _is_record(raw: bytes) -> bool:
    text = decode_line(raw)  # a GBK switch writes its Chinese text (cell names) in GB18030, not UTF-8
    if text is None or not text.lstrip().startswith("{"):
        return False
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and "record_id" in doc and "kind" in doc


class JsonlReader:
    """Canonical JSON Lines: one object per line with canonical keys; other keys are ignored."""

    name: ClassVar[str] = "jsonl"

    SNIFF_LINES: ClassVar[int] = 5

    def sniff(self, head: bytes, path: Path) -> bool:
        """One of the first few non-blank lines is a canonical record (an object with ``record_id`` and
        ``kind``): damaged lines, the first one included, do not hide the format of the file (each is rejected
        alone when read). No other format checked after this one has such a line."""
        body = _strip_bom(head)
        lines = body.split(b"\n")
        if len(head) >= HEAD_BYTES and len(lines) > 1:
            lines.pop()  # the last piece may be cut
        sample = [ln for ln in lines if ln.strip()][: self.SNIFF_LINES]
        return any(map(_is_record, sample))

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        encoding, bom = detect_encoding(head) if head else ("utf-8", 0)
        cols: dict[str, list[str | None]] = {k: [] for k in USAGE_FIELDS}
        pos: list[int] = []
        raws: list[bytes] = []
        rejects: list[Reject] = []
        file = str(path)

        def flush() -> RawBatch:
            table = pa.table(
                {**{k: pa.array(v, type=pa.string()) for k, v in cols.items()},
                 POS: pa.array(pos, type=pa.int64()), RAW: pa.array(raws, type=pa.binary())}
            )
            batch = RawBatch(table, list(rejects))
            for v in cols.values():
                v.clear()
            pos.clear()
            raws.clear()
            rejects.clear()
            return batch

        with open(path, "rb") as f:
            if bom:
                f.seek(bom)
            for number, line in enumerate(f, start=1):
                raw = line.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                reject = self._line(raw, number, encoding, file, cols)
                if reject is None:
                    pos.append(number)
                    raws.append(raw)
                else:
                    if number > 0 and not line.endswith(b"\n") and reject.reason == "bad_json":
                        reject = Reject(file, number, "truncated", None, "last line is cut off: " + reject.message, raw)
                    rejects.append(reject)
                if len(pos) + len(rejects) >= batch_size:
                    yield flush()
        if pos or rejects:
            yield flush()

    @staticmethod
    def _line(raw: bytes, number: int, encoding: str, file: str, cols: dict[str, list[str | None]]) -> Reject | None:
        try:  # each line UTF-8 when valid, else GB18030, as in canonical CSV
            text = decode_text(raw, encoding)
        except UnicodeDecodeError as exc:
            return Reject(file, number, "undecodable", None, f"not valid {encoding_name(encoding)}: {exc.reason}", raw)
        if "\x00" in text:  # a damaged line of a text file: refused alone, as in CSV
            return Reject(file, number, "undecodable", None, "NUL byte in a text line", raw)
        try:  # a BOM opening a line inside the file (files joined end to end) is not data
            doc = json.loads(text.removeprefix("\ufeff"), parse_float=str, parse_int=str,  # numbers keep their text
                             object_pairs_hook=_object)
        except ValueError as exc:
            return Reject(file, number, "bad_json", None, f"not JSON: {exc}", raw)
        if not isinstance(doc, dict):
            return Reject(file, number, "bad_json", None, f"a usage record is a JSON object, not {type(doc).__name__}", raw)
        if isinstance(doc, _Object) and doc.repeated:
            key = doc.repeated[0]
            return Reject(file, number, "bad_json", key, f"{key}: the key appears more than once in the object", raw)
        values: dict[str, str | None] = {}
        for k in USAGE_FIELDS:
            try:
                values[k] = _as_text(doc.get(k))
            except TypeError as exc:
                return Reject(file, number, "bad_value", k, f"{k}: a {exc} is not a value", raw)
        for k, v in values.items():
            cols[k].append(v)
        return None


__all__ = ["CsvReader", "JsonlReader", "ParquetReader", "UnreadableFileError"]
