"""What a file's ingest writes: lake parts (one Parquet file per billing period) and the rejects file.
Both go to a hidden temporary name first and are synced and renamed only when the file is complete, so a
reader of the lake never sees half a part and a crash leaves nothing a rerun would not rewrite identically."""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.mediation.readers import Reject
from fairtel.mediation.readers._base import bulk_pool

USAGE_DATASET = "usage"
ROW_GROUP_ROWS = 1 << 20  # rows per row group of a lake part (batches are gathered up to this)
# Columns worth a dictionary: few distinct values, or subscribers that recur. Record ids, instants and
# counters are (nearly) all distinct: trying a dictionary on them costs time and the writer falls back anyway.
DICTIONARY_COLUMNS = [f.name for f in CLEAN_USAGE_SCHEMA
                      if f.name not in ("record_id", "started_at", "duration_s", "bytes_up", "bytes_down",
                                        "amount_minor", "wholesale_charge_units")]
# Columns whose min/max statistics can prune something: instants (a time range), counters, low-cardinality
# values and record ids (a switch numbers its records in sequence, so `fairtel explain`, which looks a record
# up by id in the usage lake, skips most row groups). Subscribers, peers, cells, devices and sessions are
# spread over every row group: their min/max prune nothing, and computing them over strings costs about 4 %
# of the encoding.
STATISTICS_COLUMNS = [f.name for f in CLEAN_USAGE_SCHEMA
                      if f.name not in ("msisdn", "peer", "cell_id", "imei", "session_id", "imsi")]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def periods_of(started_at: pa.Array, tz: str) -> np.ndarray:
    """YYYYMM of each instant in the operator's time zone."""
    local = started_at.cast(pa.timestamp("us", tz=tz))
    years = np.asarray(pc.year(local).to_numpy(zero_copy_only=False), dtype=np.int64)
    months = np.asarray(pc.month(local).to_numpy(zero_copy_only=False), dtype=np.int64)
    return years * 100 + months


def _month_start_us(year: int, month: int) -> int:
    return int((datetime(year, month, 1) - datetime(1970, 1, 1)).total_seconds()) * 1_000_000


def split_periods(started_at: pa.Array, tz: str) -> tuple[list[int], np.ndarray | None]:
    """The periods (YYYYMM in the operator's time zone) a batch spans, ascending, and each row's index into
    them (None when there is one). Local wall-clock times are converted once; a month is a contiguous range
    of them, so the batch's earliest and latest local time settle the common case of one period, and month
    boundaries settle the rest, without a per-row calendar."""
    if started_at.null_count:  # not from validation (every clean row has a start): the general way
        periods = periods_of(started_at, tz)
        uniq, inverse = np.unique(periods, return_inverse=True)
        return uniq.tolist(), (inverse if len(uniq) > 1 else None)
    local = pc.local_timestamp(started_at.cast(pa.timestamp("us", tz=tz)))
    bounds = pc.min_max(local)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    first, last = lo.year * 100 + lo.month, hi.year * 100 + hi.month
    if first == last:
        return [first], None
    months = []
    y, m = lo.year, lo.month
    while y * 100 + m <= last:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    starts = np.array([_month_start_us(y, m) for y, m in months[1:]], dtype=np.int64)
    values = np.frombuffer(local.buffers()[1], dtype=np.int64, count=len(local), offset=local.offset * 8)
    index = np.searchsorted(starts, values, side="right")
    present = np.flatnonzero(np.bincount(index, minlength=len(months)))
    remap = np.zeros(len(months), dtype=np.int64)
    remap[present] = np.arange(len(present))
    return [months[i][0] * 100 + months[i][1] for i in present.tolist()], remap[index]


def filter_rows(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """The rows of ``table`` where ``mask`` holds, column by column (Table.filter goes through a query plan
    and costs several times more on wide tables)."""
    if mask.all():
        return table
    sel = pa.array(mask)
    return pa.Table.from_arrays([c.filter(sel) for c in table.columns], schema=table.schema)


_DRAIN = object()  # to the writer's thread: encode every row waiting for its row group now


def part_path(lake_dir: Path, period: int, name: str) -> Path:
    return lake_dir / USAGE_DATASET / f"period={period // 100:04d}-{period % 100:02d}" / f"{name}.parquet"


class PartWriter:
    """Clean usage rows -> ``<lake>/usage/period=YYYY-MM/<name>.parquet``, one file per period. Encoding and
    compression run on a background thread (Arrow releases the GIL), overlapping the next batch's
    validation; ``close`` waits for it and reports its errors. Batches of a period are gathered into row
    groups of about ``ROW_GROUP_ROWS`` rows (at most that many rows wait, over all periods), so the lake's
    row groups do not shrink with the batches. ``close`` may give the parts their final name then (the
    temporary files carry ``name``), so writing can start before the name is known."""

    def __init__(self, lake_dir: Path, name: str, tz: str, *, durable: bool = True) -> None:
        self.lake_dir = lake_dir
        self.name = name
        self.tz = tz
        self.durable = durable
        self._writers: dict[int, tuple[Path, pq.ParquetWriter]] = {}
        self._pending: dict[int, list[pa.Table]] = {}
        self._pending_rows: dict[int, int] = {}
        self.rows = 0
        self._queue: queue.Queue[pa.Table | object | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._error is not None:
            raise self._error
        self.rows += table.num_rows
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fairtel-parts", daemon=True)
            self._thread.start()
        self._queue.put(table)

    def drain(self) -> None:
        """No more rows are coming before ``close``: the rows gathered for row groups are encoded now, on the
        writer's thread, while the caller finishes the rest of the file (its keys), instead of in ``close``.
        The row groups are the ones ``close`` would write; rows written after this start new ones."""
        if self._error is not None:
            raise self._error
        if self._thread is not None:
            self._queue.put(_DRAIN)

    def _run(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is not None:
                continue  # drain after a failure
            try:
                if table is _DRAIN:
                    self._flush_all()
                else:
                    assert isinstance(table, pa.Table)
                    self._write(table)
            except BaseException as exc:
                self._error = exc

    def _finish_thread(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _write(self, table: pa.Table) -> None:
        table = table.select(CLEAN_USAGE_SCHEMA.names).cast(CLEAN_USAGE_SCHEMA)
        periods, index = split_periods(table.column("started_at").combine_chunks(), self.tz)
        for i, p in enumerate(periods):
            part = table if index is None else filter_rows(table, index == i)
            self._pending.setdefault(p, []).append(part)
            self._pending_rows[p] = self._pending_rows.get(p, 0) + part.num_rows
            if self._pending_rows[p] >= ROW_GROUP_ROWS:
                self._flush(p)
        if sum(self._pending_rows.values()) >= ROW_GROUP_ROWS:
            self._flush_all()

    def _flush_all(self) -> None:
        for p in sorted(self._pending):
            self._flush(p)

    def _flush(self, period: int) -> None:
        parts = self._pending.pop(period, [])
        rows = self._pending_rows.pop(period, 0)
        if rows:
            self._writer(period).write_table(pa.concat_tables(parts), row_group_size=rows)

    def _writer(self, period: int) -> pq.ParquetWriter:
        if period not in self._writers:
            final = part_path(self.lake_dir, period, self.name)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp")
            w = pq.ParquetWriter(tmp, CLEAN_USAGE_SCHEMA, compression="zstd", compression_level=1,
                                 use_dictionary=DICTIONARY_COLUMNS, write_statistics=STATISTICS_COLUMNS,
                                 memory_pool=bulk_pool())
            self._writers[period] = (tmp, w)
        return self._writers[period][1]

    def close(self, name: str | None = None) -> list[Path]:
        """Finishes every part and renames it to ``name`` (default: the writer's own); returns their paths."""
        self._finish_thread()
        if self._error is not None:
            raise self._error
        self._flush_all()
        out = []
        for period, (tmp, w) in sorted(self._writers.items()):
            w.close()
            if self.durable:
                _fsync_file(tmp)
            final = part_path(self.lake_dir, period, name or self.name)
            os.replace(tmp, final)
            if self.durable:
                fsync_dir(final.parent)
            out.append(final)
        self._writers.clear()
        return out

    def abort(self) -> None:
        self._finish_thread()
        self._pending.clear()
        self._pending_rows.clear()
        for tmp, w in self._writers.values():
            try:
                w.close()
            finally:
                tmp.unlink(missing_ok=True)
        self._writers.clear()


def remove_parts(lake_dir: Path, name: str) -> int:
    """Deletes every part (and temporary part) of ``name``; returns how many files went."""
    n = 0
    base = lake_dir / USAGE_DATASET
    if not base.is_dir():
        return 0
    for d in base.glob("period=*"):
        for p in (d / f"{name}.parquet", d / f".{name}.parquet.tmp"):
            if p.exists():
                p.unlink()
                n += 1
    return n


def reject_line(r: Reject) -> dict[str, object]:
    out: dict[str, object] = {"file": r.file, "position": r.position, "reason": r.reason, "field": r.field,
                              "message": r.message}
    try:
        out["raw"] = r.raw.decode("utf-8")
    except UnicodeDecodeError:
        out["raw_base64"] = base64.b64encode(r.raw).decode("ascii")
    return out


_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _dumps(obj: dict[str, object]) -> str:
    """JSON on one line, readable (non-ASCII kept) but with the characters some readers take for line breaks
    escaped, so that every reader sees one record per line."""
    return json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS)


class RejectsWriter:
    """One JSON Lines file per input under ``<home>/rejects/``: file, position, reason, field, message and the
    original record (``raw``, or ``raw_base64`` when it is not UTF-8). ``close`` may name the final file
    (the temporary one is named after ``path``)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._f: TextIO | None = None
        self.count = 0
        self.reasons: dict[str, int] = {}

    def write(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()/abort()
        f = self._f
        assert f is not None
        for r in rejects:
            f.write(_dumps(reject_line(r)) + "\n")
            self.reasons[r.reason] = self.reasons.get(r.reason, 0) + 1
        self.count += len(rejects)

    def close(self, path: Path | None = None) -> Path | None:
        if self._f is None:
            return None
        final = path or self.path
        f = self._f
        f.flush()
        if self.durable:
            os.fsync(f.fileno())
        f.close()
        self._f = None
        os.replace(self._tmp, final)
        if self.durable:
            fsync_dir(final.parent)
        return final

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        self._tmp.unlink(missing_ok=True)
