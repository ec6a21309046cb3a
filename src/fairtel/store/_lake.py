"""The usage lake: Parquet files partitioned by billing period, queried with DuckDB.

Layout: ``<root>/<dataset>/period=YYYY-MM/<part>.parquet``. A part is written to a hidden temporary file
in the same directory, flushed to disk, then renamed over its final name, so a reader (or a crash) never
sees half a file; writing the same part name again replaces it, which is what makes a rerun idempotent.

The datasets an engine run writes together (``rated`` with ``unrated``, the three ``fraud_*`` tables) go in by
one swap each, under a journal (``fairtel.core.commits``): a reader of them that finds a commit pending for a
period it reads (a crash between two swaps, or swaps in flight) takes and releases that period's lock first,
which finishes the commit (or waits for it), so it never reads the new lines beside the previous run's unrated
records. With no journal in ``rating_log/`` (almost always) this costs one directory listing per read. A reader
that cannot write the lake (``Lake(read_only=True)``, or ``os.access`` says so: the API or an analyst running
as another OS user, a read-only mount) cannot finish a commit and does not fail for it: it reads each dataset
of the pending run where it is now, the period or its staging directory (the journal names both, the run's
manifest tells which), which is what the period holds once the commit is finished.

Every read lists its parts from one consistent state of the lake, without a lock: each period directory is
opened, its parts listed through the open directory, and the listing kept only if, at its end, the commit
pending under the period's lock (if any) is still the one it was read by, or none is and each directory is
still the period (``_snapshot``; five tries, then under the locks). ``scan`` and ``duckdb`` also hold the
parts open from their listing to their reading: a commit that lands meanwhile and removes the parts it
replaced changes nothing they return (a DuckDB connection's views are a snapshot for its life).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.core.commits import (
    NO_WRITE_ACCESS,
    Journal,
    can_finish,
    features_lock_name,
    finish_pending,
    fsync_dir,
    lock,
    pending_commits,
    rating_lock_name,
    read_journal,
    run_at,
    shared_lock,
    write_parquet,
)
from fairtel.core.contracts import CLEAN_USAGE_OPTIONAL, CLEAN_USAGE_SCHEMA
from fairtel.core.errors import FairtelError
from fairtel.core.time import Period

PERIOD_COLUMN = "period"
USAGE = "usage"  # the clean usage mediation commits (its ledger lists the parts: ``_snapshot`` checks them)
_DATASET = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
# Datasets whose shape is a public contract: a write is cast to it, so every part of them agrees.
KNOWN_SCHEMAS: dict[str, pa.Schema] = {"usage": CLEAN_USAGE_SCHEMA}
# Columns added to a known schema after parts were written without them (all nullable): a part without them reads
# as null there, in ``scan`` and in the DuckDB views alike, and a table written without them gets nulls.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"usage": CLEAN_USAGE_OPTIONAL}
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
    """Datasets of Parquet parts under one root (``Settings.lake_dir``). ``read_only``: whether this process
    may finish a commit pending in the lake (None: as ``os.access`` tells, ``fairtel.core.commits.can_finish``)."""

    def __init__(self, root: Path | str, *, read_only: bool | None = None) -> None:
        self.root = Path(root)
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # --- paths ---------------------------------------------------------------------------------------
    def part_path(self, dataset: str, period: Period | str, part: str) -> Path:
        _check_name("dataset", dataset, _DATASET)
        _check_name("part", part, _PART)
        return self.root / dataset / f"{PERIOD_COLUMN}={_period_key(period)}" / f"{part}.parquet"

    def datasets(self) -> list[str]:
        """The datasets holding at least one part."""
        with self._snapshot(self._dataset_dirs(), None, hold=False) as snap:
            return sorted({p.dataset for p in snap.parts})

    def periods(self, dataset: str) -> list[str]:
        """The periods holding at least one part, oldest first."""
        with self._snapshot([_check_name("dataset", dataset, _DATASET)], None, hold=False) as snap:
            return sorted({p.period for p in snap.parts})

    def parts(self, dataset: str, period: Period | str) -> list[str]:
        self.part_path(dataset, period, "x")  # the names checked first, as before anything is read
        with self._snapshot([dataset], [_period_key(period)], hold=False) as snap:
            return [p.path.stem for p in snap.parts]

    def files(self, dataset: str, *, periods: Sequence[Period | str] | None = None) -> list[Path]:
        """The Parquet files of ``dataset`` (of some periods only, when given), in period and part order, as one
        consistent state of the lake lists them. Where a commit is pending that this process cannot finish (no
        write access) some are in the commit's staging directory. A path names a file, it does not hold it: a
        commit landing before the caller reads them replaces them (``scan`` and ``duckdb`` hold what they read)."""
        _check_name("dataset", dataset, _DATASET)
        wanted = None if periods is None else sorted({_period_key(p) for p in periods})
        with self._snapshot([dataset], wanted, hold=False) as snap:
            return [p.path for p in snap.parts]

    def _dataset_dirs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and _DATASET.fullmatch(d.name))

    # --- one consistent state of the lake -------------------------------------------------------------
    @contextlib.contextmanager
    def _snapshot(self, datasets: Sequence[str], periods: Sequence[str] | None, *, hold: bool) -> Iterator[_Snapshot]:
        """The parts of ``datasets`` (of ``periods``, or all) as one consistent state of the lake holds them: a
        commit pending for them finished first (or waited for) where this process may, else read where its
        journal says; held open (``hold``) until the block ends. No lock is taken unless commits keep landing
        on the listing. Usage of periods named: refused (``lake_incomplete``) when parts the home's mediation ledger
        says were committed are gone (``check_lake_complete``: one ledger query and one listing per period)."""
        if periods is not None and USAGE in datasets:
            from fairtel.mediation._state import check_lake_complete

            check_lake_complete(self.root, periods)
        snap = None
        for _ in range(_ATTEMPTS):
            self._settle(datasets, periods)
            if (snap := self._take(datasets, periods, hold=hold)) is not None:
                break
        else:  # commits landing all along: listed again holding their locks (waits for the one under way)
            with self._locked(datasets, periods):
                for _ in range(_ATTEMPTS):
                    if (snap := self._take(datasets, periods, hold=hold)) is not None:
                        break
        if snap is None:  # pragma: no cover - only parts of a dataset no lock guards, removed at every listing
            raise LakeError(f"{', '.join(datasets)}: the parts kept changing while they were listed; try again")
        try:
            yield snap
        finally:
            snap.close()

    def _take(self, datasets: Sequence[str], periods: Sequence[str] | None, *, hold: bool) -> _Snapshot | None:
        """One listing (``_snapshot``); None when a commit moved one of its directories meanwhile, or a part
        listed was removed before it was opened."""
        journals = {n: j for n in pending_commits(self.root) if (j := read_journal(self.root, n)) is not None}
        snap = _Snapshot()
        try:
            for dataset in datasets:
                name_of = COMMITTED_TOGETHER.get(dataset)
                for key in periods if periods is not None else self._period_keys(dataset, journals):
                    name = None if name_of is None else name_of(key)
                    journal = None if name is None else journals.get(name)
                    if not self._pin(snap, dataset, key, name, journal, hold=hold):
                        snap.close()
                        return None
            if self._unchanged(snap):
                if hold:
                    _keep_headroom()
                return snap
        except FileNotFoundError:  # a part removed between the listing and its opening
            pass
        except BaseException:
            snap.close()
            raise
        snap.close()
        return None

    def _period_keys(self, dataset: str, journals: dict[str, Journal]) -> list[str]:
        """The periods of ``dataset`` on disk, and those a pending commit brings (still in its staging)."""
        keys = set()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.listdir(self.root / dataset):
                key = entry.removeprefix(f"{PERIOD_COLUMN}=")
                if key != entry and _PERIOD.fullmatch(key):
                    keys.add(key)
        prefix = f"{dataset}/{PERIOD_COLUMN}="
        for journal in journals.values():
            keys.update(k for final in journal.swaps if final.startswith(prefix)
                        and _PERIOD.fullmatch(k := final.removeprefix(prefix)))
        return sorted(keys)

    def _pin(self, snap: _Snapshot, dataset: str, key: str, name: str | None, journal: Journal | None, *,
             hold: bool) -> bool:
        """Add the period ``key`` of ``dataset`` to ``snap``: its directory opened, its parts listed through it
        (and opened, ``hold``). With a commit pending for it, the directory holding the commit's run, which the
        period is once the commit is finished: the period if it went in already, else its staging directory.
        False when neither holds the run any more (finished, and replaced by another commit, meanwhile)."""
        final = self.root / dataset / f"{PERIOD_COLUMN}={key}"
        relative = f"{dataset}/{PERIOD_COLUMN}={key}"
        run = None
        if journal is not None and relative in journal.swaps:
            run = journal.run
            found = _open_run((final, self.root / journal.swaps[relative]), run)
            if found is None:
                return False
            where, fd = found
        else:
            opened = _open_dir(final)
            if opened is None:
                return True  # no such period
            where, fd = final, opened
        snap.dirs.append(_Dir(dataset, key, where, fd, name, run))
        names = sorted((n for n in os.listdir(fd) if n.endswith(".parquet") and not n.startswith(".")),
                       key=lambda n: n.removesuffix(".parquet"))
        for part in names:
            part_fd = _open_part(part, fd) if hold else None
            if part_fd is not None and not stat.S_ISREG(os.fstat(part_fd).st_mode):
                os.close(part_fd)
                continue
            snap.parts.append(_Part(dataset, key, where / part, part_fd))
        return True

    def _unchanged(self, snap: _Snapshot) -> bool:
        """Whether the directories ``snap`` listed were one state of the lake: for each, the commit pending
        under its lock when listed still pending, or else no commit pending and the directory still the
        period. A directory once swapped out never comes back, so one still the period was so all along."""
        now: dict[str, str | None] = {}
        for d in snap.dirs:
            if d.lock is not None and d.lock not in now:
                journal = read_journal(self.root, d.lock)
                now[d.lock] = None if journal is None else journal.run
        for d in snap.dirs:
            pending = None if d.lock is None else now[d.lock]
            if d.run is not None and pending == d.run:
                continue
            if pending is not None or not _same_dir(self.root / d.dataset / f"{PERIOD_COLUMN}={d.period}", d.fd):
                return False
        return True

    @contextlib.contextmanager
    def _locked(self, datasets: Sequence[str], periods: Sequence[str] | None) -> Iterator[None]:
        """The locks the commits of ``datasets`` (their ``periods``, or all) are under, in order: taken where
        this process may (a pending commit finished), held shared where it cannot write the lake."""
        names: set[str] = set()
        for dataset in datasets:
            name_of = COMMITTED_TOGETHER.get(dataset)
            if name_of is not None:
                keys = periods if periods is not None else self._period_keys(dataset, {})
                names.update(name_of(k) for k in keys)
        with contextlib.ExitStack() as stack:
            for name in sorted(names):
                try:
                    if not self._may_finish():
                        raise PermissionError(errno.EACCES, "no write access", str(self.root))
                    stack.enter_context(lock(self.root, name))
                except OSError as exc:
                    if exc.errno not in NO_WRITE_ACCESS:
                        raise
                    stack.enter_context(shared_lock(self.root, name))
            yield

    def _may_finish(self) -> bool:
        return can_finish(self.root) if self.read_only is None else not self.read_only

    def _settle(self, datasets: Iterable[str], periods: Iterable[str] | None = None) -> None:
        """Finish (or wait for) the commits pending for the periods of ``datasets`` about to be read (all of
        their periods when ``periods`` is None): a run's datasets are read as that run committed them, never one
        swapped in and the other not yet. Nothing to do, and no lock taken, without a journal; nor by a reader
        that cannot write the lake (it reads where the journal says, ``_pin``)."""
        pending = pending_commits(self.root)
        if not pending or not self._may_finish():
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
        try:
            finish_pending(self.root, names.intersection(pending))
        except OSError as exc:  # access refused after all (a lock file of another user): read as the journal says
            if exc.errno not in NO_WRITE_ACCESS:
                raise

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
            table = self._conform(dataset, table, expected, OPTIONAL_COLUMNS.get(dataset, ()))
        write_parquet(path, table)
        return path

    @staticmethod
    def _conform(dataset: str, table: pa.Table, schema: pa.Schema, optional: Sequence[str] = ()) -> pa.Table:
        for name in optional:  # written by a caller that predates them: null
            if name not in table.column_names:
                table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
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
        if dataset == USAGE and path.exists():  # removed on purpose: the ledger's check no longer asks for it
            from fairtel.mediation._state import part_removed

            part_removed(self.root, _period_key(period), part)
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
        column ``period``. Parts written with fewer columns get nulls for the others, and a column added to the
        dataset's known schema since (``OPTIONAL_COLUMNS``) is there, null, even when no part has it. The parts are
        held open from their listing to their reading, so a commit landing meanwhile changes nothing of the
        result."""
        _check_name("dataset", dataset, _DATASET)
        wanted_periods = None if periods is None else sorted({_period_key(p) for p in periods})
        wanted = None if columns is None else [c for c in columns if c != PERIOD_COLUMN]
        tables = []
        with self._snapshot([dataset], wanted_periods, hold=True) as snap:
            for part in snap.parts:
                if wanted is None:
                    t = pq.read_table(part.pinned)
                else:  # a part written before a column existed simply lacks it
                    present = set(pq.read_schema(part.pinned).names)
                    t = pq.read_table(part.pinned, columns=[c for c in wanted if c in present])
                t = self._with_optional(dataset, t, columns)
                if PERIOD_COLUMN not in t.column_names and (columns is None or PERIOD_COLUMN in columns):
                    t = t.append_column(PERIOD_COLUMN, pa.array([part.period] * t.num_rows, pa.string()))
                tables.append(t)
        if not tables:
            return self._empty(dataset, columns)
        out = pa.concat_tables(tables, promote_options="permissive")
        if columns is None:
            return self._in_order(dataset, out)
        unknown = [c for c in columns if c not in out.column_names]
        if unknown:
            raise LakeError(f"{dataset}: no column {', '.join(unknown)} in any part")
        return out.select(list(columns))

    @staticmethod
    def _with_optional(dataset: str, table: pa.Table, columns: Sequence[str] | None) -> pa.Table:
        """One part's ``table`` with the optional columns of ``dataset`` (those asked for, or all) it lacks, as
        typed nulls: a part written before they existed."""
        schema = KNOWN_SCHEMAS.get(dataset)
        if schema is None:
            return table
        for name in OPTIONAL_COLUMNS.get(dataset, ()):
            if name not in table.column_names and (columns is None or name in columns):
                table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
        return table

    @staticmethod
    def _in_order(dataset: str, table: pa.Table) -> pa.Table:
        """All the columns of ``dataset``'s parts: those of its known schema in its order, then ``period``, then any
        others (parts written before an optional column and after it list them in different orders)."""
        schema = KNOWN_SCHEMAS.get(dataset)
        if schema is None:
            return table
        known = [n for n in (*schema.names, PERIOD_COLUMN) if n in table.column_names]
        return table.select(known + [n for n in table.column_names if n not in known])

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
    def duckdb(self, datasets: Iterable[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """An in-memory DuckDB connection with one view per dataset (of ``datasets`` only, when given), named
        after it, over its Parquet parts, with the ``period`` column from the directory.

        The views are a snapshot: the parts of one consistent state of the lake when the connection opens (a
        run's datasets as that run committed them), held open until it closes. A commit that lands later is not
        seen (a new connection sees it), and never makes a query fail: the parts it replaces stay readable to
        the connection, their disk space freed when it closes."""
        names = self._dataset_dirs() if datasets is None else sorted({_check_name("dataset", d, _DATASET)
                                                                      for d in datasets})
        with self._snapshot(names, None, hold=True) as snap:
            con = duckdb.connect()
            try:
                for name in names:
                    parts = [p for p in snap.parts if p.dataset == name]
                    if parts:
                        con.execute(f'CREATE VIEW "{name}" AS {_view(parts, _optional_sql(name))}')
                yield con
            finally:
                con.close()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run one DuckDB query over the lake's datasets (a view for each one the query names, as ``duckdb``)
        and return the result as an Arrow table."""
        named = [d for d in self._dataset_dirs()
                 if re.search(rf"(?<![A-Za-z0-9_]){d}(?![A-Za-z0-9_])", query, re.IGNORECASE)]
        with self.duckdb(named) as con:
            return con.sql(query, params=params).to_arrow_table()


# --- snapshots: directories and parts held open ---------------------------------------------------------

# where an open file can be opened again by name, whatever became of its path (Linux, then the BSDs and macOS)
_FD_DIR = next((d for d in ("/proc/self/fd", "/dev/fd") if os.path.isdir(d)), None)
_ATTEMPTS = 5  # listings of a snapshot before its locks are taken (each commit moves a directory in a few calls)
_HEADROOM = 128  # file descriptors kept free beside a snapshot's, for the reads of DuckDB and the rest


@dataclass
class _Dir:
    """A period directory of a snapshot, open."""

    dataset: str
    period: str
    path: Path  # where it was listed: the period, or while a commit is pending the staging holding its run
    fd: int
    lock: str | None  # the lock of the period's commits (None: a dataset no run commits with another)
    run: str | None  # the pending commit's run it holds (None: the period as it stood)


@dataclass
class _Part:
    dataset: str
    period: str
    path: Path
    fd: int | None  # held open (a snapshot taken with ``hold``)

    @property
    def pinned(self) -> str:
        """A name that opens this part as listed, until the snapshot is closed, even once it is replaced or
        removed."""
        return str(self.path) if self.fd is None or _FD_DIR is None else f"{_FD_DIR}/{self.fd}"


@dataclass
class _Snapshot:
    dirs: list[_Dir] = field(default_factory=list)
    parts: list[_Part] = field(default_factory=list)

    def close(self) -> None:
        for fd in [p.fd for p in self.parts if p.fd is not None] + [d.fd for d in self.dirs]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.parts.clear()
        self.dirs.clear()


def _open_dir(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _open_run(candidates: Iterable[Path], run: str) -> tuple[Path, int] | None:
    """The first of ``candidates`` holding ``run``'s manifest, opened (checked through the open directory)."""
    for path in candidates:
        fd = _open_dir(path)
        if fd is None:
            continue
        try:
            if run_at(fd) == run:
                return path, fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return None


def _open_part(name: str, dir_fd: int) -> int:
    """The part ``name`` of the directory ``dir_fd``, opened; the limit of open files raised (up to the hard
    limit) where a snapshot of many parts reaches it."""
    while True:
        try:
            return os.open(name, os.O_RDONLY, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise
            if not _raise_open_files():
                raise LakeError("too many parts to hold open at once: raise the limit of open files (ulimit -n), "
                                "or query fewer datasets") from exc


def _raise_open_files() -> bool:
    """Double the soft limit of open files, up to the hard one; False when it is there already."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft >= hard:
        return False
    wanted = max(soft * 2, soft + _HEADROOM)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    return True


def _keep_headroom() -> None:
    """Leave ``_HEADROOM`` descriptors free after a snapshot was opened (raising the soft limit if it can)."""
    if _FD_DIR is None:  # pragma: no cover
        return
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft - len(os.listdir(_FD_DIR)) < _HEADROOM:
        _raise_open_files()


def _same_dir(path: Path, fd: int) -> bool:
    """Whether ``path`` is the directory open as ``fd``."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


_SQL_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.bool_(): "BOOLEAN"}


def _optional_sql(dataset: str) -> dict[str, str]:
    """The optional columns of ``dataset`` (``OPTIONAL_COLUMNS``) and their DuckDB types."""
    schema = KNOWN_SCHEMAS.get(dataset)
    if schema is None:
        return {}
    return {n: _SQL_TYPES[schema.field(n).type] for n in OPTIONAL_COLUMNS.get(dataset, ())}


def _view(parts: Sequence[_Part], optional: dict[str, str] | None = None) -> str:
    """The query of a dataset's view over its parts held open: the parts of each period together (a column some
    lack is null there), the period a column from the directory whether or not a part has its own, last. The
    ``optional`` columns (name: DuckDB type) are there, null, in a period none of whose parts has them."""
    by_period: dict[str, list[str]] = {}
    for part in parts:
        by_period.setdefault(part.period, []).append("'" + part.pinned.replace("'", "''") + "'")
    col = PERIOD_COLUMN
    empty = ", ".join(f'NULL::{t} AS "{n}"' for n, t in {col: "VARCHAR", **(optional or {})}.items())
    selects = [
        f"SELECT * EXCLUDE ({col}), '{key}' AS {col} FROM (SELECT * FROM read_parquet([{', '.join(files)}], "
        f"union_by_name = true, hive_partitioning = false) UNION ALL BY NAME SELECT {empty} WHERE false)"
        for key, files in by_period.items()
    ]
    return f"SELECT * EXCLUDE ({col}), {col} FROM ({' UNION ALL BY NAME '.join(selects)})"
