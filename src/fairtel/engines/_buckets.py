"""Rating a period on this machine: the lake split once into hash buckets of whole subscribers, the buckets
rated by a pool of worker processes.

Two passes, both parallel over processes (Polars runs much of a kernel on one thread, so threads alone leave a
core idle):

1. **split**: each usage part is read once (only the columns rating needs) and partitioned by
   ``hash(msisdn) % buckets`` into uncompressed Arrow IPC pieces under a spill directory;
2. **rate**: each bucket's pieces are read back, rated by the unchanged kernel (``rate_group``), and its rated
   and unrated lines are written as ``part-<bucket>.parquet`` into the writers' staging directories (fsynced);
   the worker returns only the bucket's summary.

Rating a period of at most ``DIRECT_BUCKETS`` buckets skips the split: each bucket reads the usage parts
itself and keeps its own rows as they are decoded (``read_parts``). Decoding a part costs about a fifth of
spilling it and reading the pieces back, so a few buckets each decoding the period cost less than one split;
with many, the split wins. Either way a bucket gets the same rows in the same order.

The caller commits the staging directories whole and together (``commit_period``): a crash leaves the previous
period's lines in place and a rerun replaces them. Bucket membership depends only on the msisdn and the number of buckets,
and the kernel gives a subscriber the same lines in any batch of whole subscribers, so the result does not
depend on the number of workers (tested).

Small periods are rated in this process through the same two functions: starting a worker costs about half a
second of CPU (imports; the parent's main script is not run again in it, ``_pool``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
import pyarrow.parquet as pq

from fairtel.engines._kernels import rate_group, rating_summary

if TYPE_CHECKING:
    from fairtel.catalog import Catalog
    from fairtel.fraud import CrossFeatures, FeatureConfig
    from fairtel.rating import VasGate

T = TypeVar("T")
SEED = 7  # the bucket hash's seed: fixed, so buckets are the same in every run
PARALLEL_FROM = 1_500_000  # records; below this, workers cost more than they save
DIRECT_BUCKETS = 4  # buckets; up to this many, each bucket reads the usage parts itself rather than a split
# Polars' allocator (jemalloc) hands freed pages back to the system within a second by default, and a bucket frees
# and takes back hundreds of MiB at every step of the kernel: the workers' allocator keeps them for some seconds
# instead, to be reused (less CPU in page faults and in returning pages; a worker's peak is about a fifth
# higher). Polars reads the variable when imported, with its own setting first (a later one wins), and leaves it
# set to that; a user's own setting is kept as is.
MALLOC_CONF_VAR = "_RJEM_MALLOC_CONF"
POLARS_MALLOC_CONFS = ("", "dirty_decay_ms:500,muzzy_decay_ms:1000")
WORKER_MALLOC_CONF = "dirty_decay_ms:10000,muzzy_decay_ms:10000"
ROW_GROUP_ROWS = 131_072  # rows per row group of a written part (``row_groups``)
MAX_RUNS = 64  # restarts of the number order a part's row groups are also cut at (``row_groups``)


def bucket_of(buckets: int) -> pl.Expr:
    return (pl.col("msisdn").hash(seed=SEED) % buckets).cast(pl.Int64)


def split_file(path: Path, index: int, buckets: int, columns: Sequence[str], spill: Path) -> list[tuple[int, Path]]:
    """Partition one usage part into per-bucket IPC pieces ``b<bucket>-<index>.arrow``; returns (bucket, piece)."""
    scan = pl.scan_parquet(path)
    names = scan.collect_schema().names()
    frame = scan.select([c for c in columns if c in names]).collect()
    if frame.height == 0:
        return []
    spill.mkdir(parents=True, exist_ok=True)
    out = []
    parts = frame.with_columns(bucket_of(buckets).alias("_b")).partition_by("_b", as_dict=True, include_key=False)
    for (b,), part in parts.items():
        piece = spill / f"b{int(b):05d}-{index:05d}.arrow"
        part.write_ipc(piece, compression="uncompressed")
        out.append((int(b), piece))
    return out


def read_bucket(pieces: Sequence[Path], columns: Sequence[str]) -> pl.DataFrame:
    """One bucket's usage from its pieces (parts written before a column existed lack it: null)."""
    frames = [pl.read_ipc(p) for p in pieces]
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames, how="diagonal_relaxed")
    return frame.select([c for c in columns if c in frame.columns])


def read_parts(parts: Sequence[Path], bucket: int, buckets: int, columns: Sequence[str]) -> pl.DataFrame:
    """Bucket ``bucket``'s usage read from the usage parts themselves: the rows ``split_file`` and ``read_bucket``
    give it, in the same order (parts in order, rows in their order within a part; empty parts are skipped as
    the split skips them). The other columns are decoded only for the bucket's rows."""
    scans = []
    for path in parts:
        if pq.ParquetFile(path).metadata.num_rows == 0:
            continue
        scan = pl.scan_parquet(path)
        names = scan.collect_schema().names()
        scan = scan.select([c for c in columns if c in names])
        scans.append(scan if buckets <= 1 else scan.filter(bucket_of(buckets) == bucket))
    if not scans:
        return pl.DataFrame()
    frame = pl.concat(scans, how="diagonal_relaxed").collect()
    return frame.select([c for c in columns if c in frame.columns])


@dataclass(frozen=True)
class Source:
    """Where one bucket's usage is: the pieces the split spilled for it (removed once read), or, with few
    buckets, the usage parts themselves (``read_parts``; never removed)."""

    bucket: int
    buckets: int
    pieces: tuple[Path, ...] = ()
    parts: tuple[Path, ...] = ()

    def read(self, columns: Sequence[str]) -> pl.DataFrame:
        if self.parts:
            return read_parts(self.parts, self.bucket, self.buckets, columns)
        frame = read_bucket(self.pieces, columns)
        for p in self.pieces:
            p.unlink(missing_ok=True)
        return frame


@dataclass(frozen=True)
class RatingJob:
    """What every bucket needs; sent once to each worker."""

    catalog: Catalog
    period: str
    # the register's rows of each bucket (``split_subscribers``): a bucket rates with its own subscribers only,
    # not with a register of millions each time
    subscribers: tuple[pl.DataFrame, ...]
    gate: VasGate | None
    columns: tuple[str, ...]
    rated_dir: Path
    unrated_dir: Path


def split_subscribers(subscribers: pl.DataFrame, buckets: int) -> tuple[pl.DataFrame, ...]:
    """The register's rows of each bucket (a subscriber's usage and register row fall in the same bucket); one
    bucket, or none, is the whole register."""
    if buckets <= 1:
        return (subscribers,)
    parts = subscribers.with_columns(bucket_of(buckets).alias("_b")).partition_by("_b", as_dict=True, include_key=False)
    empty = subscribers.clear()
    return tuple(parts.get((b,), empty) for b in range(buckets))


_JOB: Any = None  # the job of this worker process (a RatingJob or a FeatureJob)


def _start_worker(job: Any) -> None:
    global _JOB
    _JOB = job


def row_groups(frame: pl.DataFrame, size: int = 0) -> list[tuple[int, int]]:
    """(offset, length) of each row group of ``frame`` as ``write_part`` writes it: at most ``size`` rows each
    (0: ``ROW_GROUP_ROWS``), and a new group wherever the numbers start again from a lower one. A bucket's rated
    lines are ordered by number, then its VAS lines by number: cut there, every group spans a narrow range of
    numbers, which a reader filtering on a range of numbers skips by the groups' statistics. A frame in no such
    order (more than ``MAX_RUNS`` restarts) is cut by size alone; its statistics still hold, only wider."""
    size = size or ROW_GROUP_ROWS
    cuts = [0]
    if "msisdn" in frame.columns and frame.height > 1:
        number = pl.col("msisdn").cast(pl.String)
        down = frame.select((number < number.shift(1)).arg_true())[:, 0]
        if down.len() <= MAX_RUNS:
            cuts.extend(down.to_list())
    cuts.append(frame.height)
    return [(at, min(size, end - at)) for start, end in itertools.pairwise(cuts)
            for at in range(start, end, size)]


def write_part(frame: pl.DataFrame, path: Path, *, atomic: bool = False, keep_empty: bool = False) -> None:
    """``frame`` as a Parquet part at ``path``, fsynced (nothing for an empty frame unless ``keep_empty``), in row
    groups of at most ``ROW_GROUP_ROWS`` rows with statistics (a coded frame, rating's lines: cut by ``row_groups``).
    ``atomic``: written to a hidden name first and renamed, for parts that land directly in a dataset rather than
    in a staging directory."""
    if frame.height == 0 and not keep_empty:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.tmp") if atomic else path
    with target.open("wb") as fh:
        coded = [c for c, t in frame.schema.items() if isinstance(t, pl.Enum)]
        if coded:
            # enum columns (``rate(coded=True)``) go in as dictionary pages made from their codes, and are stored
            # as the strings they stand for (no Arrow schema kept: readers see plain string columns, as ever);
            # the writer would otherwise hash every value again. No statistics for them: a few values each, which no
            # reader filters on, and a fifth more of the write's CPU (docs/rating.md)
            table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
            with pq.ParquetWriter(fh, table.schema, compression="zstd", compression_level=1, use_dictionary=coded,
                                  store_schema=False,
                                  write_statistics=[c for c in frame.columns if c not in coded]) as writer:
                for at, rows in row_groups(frame):
                    writer.write_table(table.slice(at, rows), row_group_size=rows)
        else:
            # zstd level 1: about as small as the default level here, and the cheapest encoder setting
            frame.write_parquet(fh, compression="zstd", compression_level=1, row_group_size=ROW_GROUP_ROWS)
        fh.flush()
        os.fsync(fh.fileno())
    if atomic:
        os.replace(target, path)


def scan_numbers(files: Sequence[Path], lo: str, hi: str) -> pl.LazyFrame:
    """The rows of the parts ``files`` whose number is from ``lo`` to ``hi`` (as strings compare). The range is a
    filter on the column itself, so the reader decodes only the row groups whose statistics reach into it: a
    part ``write_part`` wrote is mostly skipped (``row_groups``)."""
    return pl.scan_parquet(list(files)).filter((pl.col("msisdn") >= lo) & (pl.col("msisdn") <= hi))


def rate_bucket(bucket: int, source: Source, job: RatingJob | None = None) -> pl.DataFrame:
    """Rate one bucket, write its lines into the staging directories, remove its pieces; returns its summary."""
    job = job or _JOB
    if not isinstance(job, RatingJob):  # pragma: no cover - a worker always has its job
        raise RuntimeError("rating worker started without a rating job")
    usage = source.read(job.columns)
    if usage.height == 0:
        return rating_summary(*(pl.DataFrame(schema=s) for s in _EMPTY))
    rated, unrated = rate_group(usage, catalog=job.catalog, period=job.period, gate=job.gate,
                                subscribers=job.subscribers[bucket], coded=True)
    del usage
    write_part(rated, job.rated_dir / f"part-{bucket:05d}.parquet")
    write_part(unrated, job.unrated_dir / f"part-{bucket:05d}.parquet")
    return rating_summary(rated, unrated)


def _empty_schemas() -> tuple[dict[str, pl.DataType], dict[str, pl.DataType]]:
    from fairtel.rating import RATED_COLUMNS, UNRATED_COLUMNS

    return dict(RATED_COLUMNS), dict(UNRATED_COLUMNS)


_EMPTY = _empty_schemas()


def workers_for(records: int, workers: int, parallel_from: int = PARALLEL_FROM) -> int:
    """Processes to use: ``workers`` (0: one per CPU this process may use); one below ``parallel_from`` records."""
    if workers <= 0:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if records < parallel_from else max(1, workers)


@contextmanager
def _pool(workers: int, job: Any) -> Iterator[ProcessPoolExecutor]:
    """Worker processes started fresh (``spawn``: Polars' thread pool does not survive ``fork``), each with its
    share of the CPUs for Polars' threads."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # read by the workers when they start: Polars' threads, and its allocator's (unless set by the user)
    settings = {"POLARS_MAX_THREADS": str(max(1, cpus // workers))}
    allocator = os.environ.get(MALLOC_CONF_VAR, "")
    if allocator in POLARS_MALLOC_CONFS:  # Polars' own setting (it sets the variable when imported), not the user's
        settings[MALLOC_CONF_VAR] = ",".join(c for c in (allocator, WORKER_MALLOC_CONF) if c)
    before = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    # a spawned process first runs the parent's main script again, as ``__mp_main__``: for ``fairtel`` that is
    # the console script, whose import of the whole command line cost each worker over a second of CPU. The
    # workers run only functions and jobs of this package, so the script's path is kept from them while they start
    # (a main module run with ``-m`` is never run again in them)
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None) if getattr(main, "__spec__", None) is None else None
    if main is not None and script is not None:
        del main.__file__
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(job,))
    try:
        # start them all now, while the variables are set (and the script hidden)
        for f in [pool.submit(os.getpid) for _ in range(workers)]:
            f.result()
    finally:
        if main is not None and script is not None:
            main.__file__ = script
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def map_buckets(
    files: Sequence[Path], buckets: int, job: Any, fn: Callable[[int, Source], T], *, spill: Path, workers: int,
    step: Callable[[], None] | None = None, direct: bool = False,
) -> list[T]:
    """Split ``files`` once into ``buckets`` hash buckets of whole subscribers (``job.columns``; ``direct``: no
    split, each bucket reads ``files`` itself), then ``fn(bucket, source)`` for each bucket, in order, with
    ``workers`` processes (1: in this process; ``fn`` then reads ``job`` from the worker's state, so it must be a
    module-level function taking an optional job). The spill directory is removed at the end, whatever happens."""
    parts = tuple(files)

    def sources(found: Sequence[Sequence[tuple[int, Path]]]) -> list[Source]:
        if direct:
            return [Source(b, buckets, parts=parts) for b in range(buckets)]
        return [Source(b, buckets, pieces=tuple(p)) for b, p in enumerate(_group(found, buckets))]

    try:
        if workers <= 1:
            found = [] if direct else [split_file(f, i, buckets, job.columns, spill) for i, f in enumerate(files)]
            out = []
            for b, source in enumerate(sources(found)):
                out.append(fn(b, source, job))  # type: ignore[call-arg]
                if step is not None:
                    step()
            return out
        with _pool(workers, job) as pool:
            splits = [] if direct else [pool.submit(split_file, f, i, buckets, job.columns, spill) for i, f in enumerate(files)]
            futures: list[Future[T]] = [pool.submit(fn, b, source)
                                        for b, source in enumerate(sources([s.result() for s in splits]))]
            out = []
            for fut in futures:
                out.append(fut.result())
                if step is not None:
                    step()
            return out
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def rate_buckets(
    files: Sequence[Path], buckets: int, job: RatingJob, *, spill: Path, workers: int,
    step: Callable[[], None] | None = None,
) -> list[pl.DataFrame]:
    """Rate ``files`` in ``buckets`` hash buckets (read by each bucket, without a split, when there are at most
    ``DIRECT_BUCKETS``); one summary per bucket."""
    return map_buckets(files, buckets, job, rate_bucket, spill=spill, workers=workers, step=step,
                       direct=buckets <= DIRECT_BUCKETS)


def _group(found: Sequence[Sequence[tuple[int, Path]]], buckets: int) -> list[list[Path]]:
    pieces: list[list[Path]] = [[] for _ in range(buckets)]
    for one in found:
        for b, path in one:
            pieces[b].append(path)
    return pieces


@dataclass(frozen=True)
class FeatureJob:
    """What every bucket of the fraud features needs: the cross-subscriber aggregates come computed."""

    catalog: Catalog
    config: FeatureConfig
    subscribers: pl.DataFrame | None
    cross: CrossFeatures
    columns: tuple[str, ...]


def feature_bucket(bucket: int, source: Source, job: FeatureJob | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(lines, callbacks) of one bucket of whole subscribers; removes its pieces."""
    from fairtel.engines._kernels import empty_usage
    from fairtel.fraud import compute_features

    job = job or _JOB
    if not isinstance(job, FeatureJob):  # pragma: no cover - a worker always has its job
        raise RuntimeError("feature worker started without a feature job")
    usage = source.read(job.columns)
    if usage.height == 0:
        usage = empty_usage(job.columns)
    found = compute_features(usage, catalog=job.catalog, subscribers=job.subscribers, config=job.config,
                             cross=job.cross)
    return found.lines, found.callbacks


def feature_buckets(
    files: Sequence[Path], buckets: int, job: FeatureJob, *, spill: Path, workers: int,
) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """The fraud features of ``files`` in ``buckets`` hash buckets; one (lines, callbacks) per bucket."""
    return map_buckets(files, buckets, job, feature_bucket, spill=spill, workers=workers)
