"""The usage lake: Parquet files partitioned by billing period, queried with DuckDB.

Layout: ``<root>/<dataset>/period=YYYY-MM/<part>.parquet``. A part is written to a hidden temporary file
in the same directory, flushed to disk, then renamed over its final name, so a reader (or a crash) never
sees half a file; writing the same part name again replaces it, which is what makes a rerun idempotent.

The datasets an engine run writes together (``rated`` with ``unrated``, the three ``fraud_*`` tables) go in by
one swap each, under a journal (``fairtel.core.commits``): a reader of them that finds a commit pending for a
period it reads (a crash between two swaps, or swaps in flight) takes and releases that period's lock first,
which finishes the commit (or waits for it), so it never reads the new lines beside the previous run's unrated
records. With no journal in ``rating_log/`` (almost always) this costs one directory listing per read.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.commits import (
    features_lock_name,
    finish_pending,
    fsync_dir,
    pending_commits,
    rating_lock_name,
    write_parquet,
)
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.errors import FairtelError
from fairtel.core.time import Period

PERIOD_COLUMN = "period"
_DATASET = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
# Datasets whose shape is a public contract: a write is cast to it, so every part of them agrees.
KNOWN_SCHEMAS: dict[str, pa.Schema] = {"usage": CLEAN_USAGE_SCHEMA}
# Datasets an engine run commits together with others, and the name of the lock a period's commit is under
# (the engines' ``RATED``, ``UNRATED`` and ``FEATURE_DATASETS``).
COMMITTED_TOGETHER: dict[str, Callable[[str], str]] = {
    "rated": rating_lock_name,
    "unrated": rating_lock_name,
    "fraud_lines": features_lock_name,
    "fraud_callers": features_lock_name,
    "fraud_callbacks": features_lock_name,
}


class LakeError(FairtelError):
    code = "lake_invalid"


def _period_key(period: Period | str) -> str:
    key = period.key if isinstance(period, Period) else str(period)
    if not _PERIOD.fullmatch(key):
        raise LakeError(f"a period is written YYYY-MM, got {key!r}")
    return key


def _check_name(kind: str, value: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise LakeError(f"invalid {kind} name {value!r}")
    return value


class Lake:
    """Datasets of Parquet parts under one root (``Settings.lake_dir``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # --- paths ---------------------------------------------------------------------------------------
    def part_path(self, dataset: str, period: Period | str, part: str) -> Path:
        _check_name("dataset", dataset, _DATASET)
        _check_name("part", part, _PART)
        return self.root / dataset / f"{PERIOD_COLUMN}={_period_key(period)}" / f"{part}.parquet"

    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        self._settle(COMMITTED_TOGETHER)
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and _DATASET.fullmatch(d.name) and self._periods(d.name))

    def periods(self, dataset: str) -> list[str]:
        """The periods holding at least one part, oldest first."""
        self._settle([dataset])
        return self._periods(dataset)

    def _periods(self, dataset: str) -> list[str]:
        base = self.root / _check_name("dataset", dataset, _DATASET)
        if not base.is_dir():
            return []
        out = []
        for d in base.iterdir():
            key = d.name.removeprefix(f"{PERIOD_COLUMN}=")
            if d.is_dir() and key != d.name and _PERIOD.fullmatch(key) and any(d.glob("*.parquet")):
                out.append(key)
        return sorted(out)

    def parts(self, dataset: str, period: Period | str) -> list[str]:
        self.part_path(dataset, period, "x")  # the names checked first, as before anything is read
        self._settle([dataset], [_period_key(period)])
        return self._parts(dataset, period)

    def _parts(self, dataset: str, period: Period | str) -> list[str]:
        d = self.part_path(dataset, period, "x").parent
        return sorted(p.stem for p in d.glob("*.parquet")) if d.is_dir() else []

    def files(self, dataset: str, *, periods: Sequence[Period | str] | None = None) -> list[Path]:
        """The Parquet files of ``dataset`` (of some periods only, when given), in period and part order."""
        wanted = None if periods is None else sorted({_period_key(p) for p in periods})
        self._settle([dataset], wanted)
        keys = self._periods(dataset) if wanted is None else wanted
        return [self.part_path(dataset, k, p) for k in keys for p in self._parts(dataset, k)]

    def _settle(self, datasets: Iterable[str], periods: Iterable[str] | None = None) -> None:
        """Finish (or wait for) the commits pending for the periods of ``datasets`` about to be read (all of
        their periods when ``periods`` is None): a run's datasets are read as that run committed them, never one
        swapped in and the other not yet. Nothing to do, and no lock taken, without a journal."""
        pending = pending_commits(self.root)
        if not pending:
            return
        names: set[str] = set()
        for dataset in datasets:
            name_of = COMMITTED_TOGETHER.get(dataset)
            if name_of is None:
                continue
            if periods is None:
                names.update(n for n in pending if name_of(n.rpartition("=")[2]) == n)
            else:
                names.update(name_of(k) for k in periods)
        finish_pending(self.root, names.intersection(pending))

    # --- writing -------------------------------------------------------------------------------------
    def write(self, dataset: str, period: Period | str, table: pa.Table, *, part: str) -> Path:
        """Write ``table`` as one part, atomically; a part of the same name is replaced. Returns its path.

        The partition column ``period`` is implied by the directory; a table may carry it too, but then
        every value must equal the partition's period.
        """
        path = self.part_path(dataset, period, part)
        key = _period_key(period)
        if PERIOD_COLUMN in table.column_names:
            values = set(table.column(PERIOD_COLUMN).unique().to_pylist())
            if values - {key}:
                raise LakeError(f"{dataset}: rows of periods {sorted(map(str, values - {key}))} written to period={key}")
        expected = KNOWN_SCHEMAS.get(dataset)
        if expected is not None:
            table = self._conform(dataset, table, expected)
        write_parquet(path, table)
        return path

    @staticmethod
    def _conform(dataset: str, table: pa.Table, schema: pa.Schema) -> pa.Table:
        missing = [n for n in schema.names if n not in table.column_names]
        if missing:
            raise LakeError(f"{dataset}: columns missing: {', '.join(missing)}")
        try:
            return table.select(schema.names).cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise LakeError(f"{dataset}: does not fit the dataset's schema: {exc}") from exc

    def delete_part(self, dataset: str, period: Period | str, part: str) -> bool:
        """Remove one part; True if it existed. An emptied period directory is removed too."""
        path = self.part_path(dataset, period, part)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(OSError):  # not empty (other parts, or a write in flight): keep it
            path.parent.rmdir()
        fsync_dir(path.parent.parent)
        return True

    # --- reading -------------------------------------------------------------------------------------
    def scan(
        self,
        dataset: str,
        *,
        periods: Sequence[Period | str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Rows of ``dataset`` (of some periods only, when given) as one Arrow table, with the partition
        column ``period``. Parts written with fewer columns get nulls for the others."""
        files = self.files(dataset, periods=periods)
        if not files:
            return self._empty(dataset, columns)
        wanted = None if columns is None else [c for c in columns if c != PERIOD_COLUMN]
        tables = []
        for f in files:
            if wanted is None:
                t = pq.read_table(f)
            else:  # a part written before a column existed simply lacks it
                present = set(pq.read_schema(f).names)
                t = pq.read_table(f, columns=[c for c in wanted if c in present])
            if PERIOD_COLUMN not in t.column_names and (columns is None or PERIOD_COLUMN in columns):
                key = f.parent.name.removeprefix(f"{PERIOD_COLUMN}=")
                t = t.append_column(PERIOD_COLUMN, pa.array([key] * t.num_rows, pa.string()))
            tables.append(t)
        out = pa.concat_tables(tables, promote_options="permissive")
        if columns is None:
            return out
        unknown = [c for c in columns if c not in out.column_names]
        if unknown:
            raise LakeError(f"{dataset}: no column {', '.join(unknown)} in any part")
        return out.select(list(columns))

    def _empty(self, dataset: str, columns: Sequence[str] | None) -> pa.Table:
        schema = KNOWN_SCHEMAS.get(dataset)
        if schema is None:
            return pa.table({c: pa.array([], pa.null()) for c in columns or []})
        schema = schema.append(pa.field(PERIOD_COLUMN, pa.string()))
        if columns is not None:
            unknown = [c for c in columns if c not in schema.names]
            if unknown:  # as when parts exist: an unknown column is the caller's error, whatever is stored
                raise LakeError(f"{dataset}: no column {', '.join(unknown)} in any part")
            schema = pa.schema([schema.field(c) for c in columns])
        return schema.empty_table()

    @contextlib.contextmanager
    def duckdb(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An in-memory DuckDB connection with one view per dataset, named after it, over its Parquet
        parts (hive-partitioned: the ``period`` column comes from the directory)."""
        con = duckdb.connect()
        try:
            for name in self.datasets():  # commits pending for any period finished first (``datasets``)
                # committed periods only: a rating run stages new parts in a hidden ".period=..." directory
                pattern = str(self.root / name / f"{PERIOD_COLUMN}=*" / "*.parquet").replace("'", "''")
                con.execute(
                    f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet(\'{pattern}\', hive_partitioning = true, '
                    f"union_by_name = true, hive_types = {{'{PERIOD_COLUMN}': 'VARCHAR'}})"
                )
            yield con
        finally:
            con.close()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run one DuckDB query over the lake's datasets and return the result as an Arrow table."""
        with self.duckdb() as con:
            return con.sql(query, params=params).to_arrow_table()
