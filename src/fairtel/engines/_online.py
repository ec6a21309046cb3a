"""Online rating: each file's accepted records rated as soon as mediation has committed them (``fairtel watch
--rate``), with the period's allowance and cap counters carried from file to file.

The batch run (``fairtel rate --period``) rates a whole period in time order and replaces its lines; online
rating gives the subscriber a charge (and the operator revenue, bill-shock and fraud signals) within seconds of
the switch's file, in arrival order. Both use the same kernel; a record's online lines equal its batch lines
whenever the files arrive in time order.

Per file and period, in this order:

1. the records are rated with the period's counters as opening state (``rate(..., opening_state=...)``);
2. its rated lines and unrated records are written as ``o-<seq>-<file>.parquet`` parts of ``rated`` and
   ``unrated``, and the counters after it under ``rating_state/period=P/`` (each to a hidden name, fsynced, then
   renamed): as a delta ``o-<seq>-<file>.parquet``, every counter of the subscribers the file names (those
   rows are the whole state of those subscribers), or as a snapshot ``o-<seq>-<file>.full.parquet``, every
   counter of the period;
3. a line ``{seq, file, period, records, arrived_at, rated_at, ...}`` is appended to
   ``rating_log/online.jsonl`` and fsynced: that line is the commit.

Writing only deltas keeps a file's cost in proportion to the file, not to the operator's millions of
subscribers. A snapshot is written for the period's first online file, and again once the deltas since the
last one hold as many rows as it does (so the deltas never take more room than the state, and each counter row
written costs at most one more row of snapshots); files before the newest snapshot are then removed. The state
is the newest snapshot with, for each subscriber, the rows of the newest delta that names it.

A crash anywhere leaves parts without a log line; the next start removes them, and the file is rated again from
the last committed counters, so nothing is charged twice and nothing is lost. The log is also the record of
timeliness: how long after its file arrived each record was rated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fairtel.core.time import Period
from fairtel.engines._base import RATED, UNRATED
from fairtel.engines._buckets import write_part
from fairtel.engines._kernels import RATING_USAGE_COLUMNS

if TYPE_CHECKING:
    from fairtel.catalog import Catalog
    from fairtel.core.settings import Settings
    from fairtel.rating import VasGate

STATE = "rating_state"
LOG_DIR = "rating_log"
LOG_FILE = "online.jsonl"
PREFIX = "o-"
FULL = ".full"  # a snapshot's name: o-<seq>-<file>.full.parquet
SNAPSHOT_MIN_ROWS = 100_000  # deltas below this many rows since the last snapshot never call for a new one


@dataclass(frozen=True)
class OnlineResult:
    """What rating one file did."""

    seq: int
    file: str
    records: int
    lines: int
    unrated: int
    amount_minor: int
    periods: tuple[str, ...]
    arrived_at: datetime
    rated_at: datetime
    skipped: bool = False

    @property
    def lag_s(self) -> float:
        return (self.rated_at - self.arrived_at).total_seconds()


@dataclass
class _Log:
    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, *, repair: bool = False) -> _Log:
        """The committed entries. ``repair`` (the rater, which alone appends): drop a torn last line from the
        file; a reader never rewrites it (the rater may be appending that very line)."""
        log = cls(path)
        if path.exists():
            text = path.read_text(encoding="utf-8")
            for line in text.splitlines():
                try:
                    log.entries.append(json.loads(line))
                except json.JSONDecodeError:  # a line torn by a crash: not committed
                    break
            good = "".join(json.dumps(e, sort_keys=True) + "\n" for e in log.entries)
            if repair and good != text:  # drop the torn tail so that the next append starts on a clean line
                _write_atomic(path, good.encode())
        return log

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.entries.append(entry)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class OnlineRater:
    """Rates committed usage files one after another, carrying each period's counters. Not thread-safe: one
    rater per home (``fairtel watch`` holds mediation's lock while it runs)."""

    def __init__(self, settings: Settings, *, catalog: Catalog, subscribers: pl.DataFrame,
                 gate: VasGate | None = None) -> None:
        self.lake = settings.lake_dir
        self.catalog = catalog
        self.subscribers = subscribers
        self.gate = gate
        self.log = _Log.read(self.lake / LOG_DIR / LOG_FILE, repair=True)
        self._state: dict[str, _PeriodState] = {}
        self._recover()

    @property
    def subscribers(self) -> pl.DataFrame:
        return self._subscribers

    @subscribers.setter
    def subscribers(self, frame: pl.DataFrame) -> None:
        """The register, checked once here (a number listed twice is an error); each file is rated with the rows
        of the subscribers it names."""
        from fairtel.rating import normalise_subscribers

        self._subscribers = normalise_subscribers(frame)

    # --- state ----------------------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Remove what a crash left without a log line (parts, counters, hidden files)."""
        committed = {self._name(e["seq"], e["file"]) for e in self.log.entries}
        for dataset in (RATED, UNRATED, STATE):
            for p in (self.lake / dataset).glob("period=*/*"):
                stem = p.name.removeprefix(".").removesuffix(".tmp").removesuffix(".parquet").removesuffix(FULL)
                if stem.startswith(PREFIX) and (p.name.startswith(".") or stem not in committed):
                    p.unlink(missing_ok=True)

    @staticmethod
    def _name(seq: int, file: str) -> str:
        return f"{PREFIX}{seq:08d}-{file}"

    def done(self, file: str) -> bool:
        return any(e["file"] == file for e in self.log.entries)

    def state(self, period: str) -> pl.DataFrame:
        """The period's counters after the last committed file."""
        return self._period_state(period).frame

    def _period_state(self, period: str) -> _PeriodState:
        if period not in self._state:
            from fairtel.rating import STATE_COLUMNS

            entries = [e for e in self.log.entries if period in e["periods"]]
            d = self.lake / STATE / f"period={period}"
            if entries:
                # the newest committed snapshot, then the deltas committed after it (a home from before deltas has
                # no snapshot: its state files each hold the whole state, and read as deltas give it whole)
                names = [self._name(e["seq"], e["file"]) for e in entries]
                last_full = max((i for i, n in enumerate(names) if (d / f"{n}{FULL}.parquet").exists()), default=-1)
                base = pl.read_parquet(d / f"{names[last_full]}{FULL}.parquet") if last_full >= 0 else pl.DataFrame(schema=STATE_COLUMNS)
                deltas = [pl.read_parquet(d / f"{n}.parquet").with_columns(pl.lit(i, dtype=pl.Int64).alias("_i"))
                          for i, n in enumerate(names) if i > last_full and (d / f"{n}.parquet").exists()]
                since, snapshot_rows = sum(f.height for f in deltas), base.height
                if deltas:
                    newest = pl.concat(deltas).filter(pl.col("_i") == pl.col("_i").max().over("msisdn")).drop("_i")
                    base = pl.concat([base.join(newest.select("msisdn").unique(), on="msisdn", how="anti"), newest])
                self._state[period] = _PeriodState(base, snapshot=last_full >= 0, since=since, snapshot_rows=snapshot_rows)
            else:
                frame = pl.DataFrame(schema=STATE_COLUMNS)
                # a period rated before by the batch run: carry on from the counters its lines record, so that
                # an allowance is not granted twice nor a daily cap restarted
                batch = [f for f in sorted((self.lake / RATED / f"period={period}").glob("*.parquet"))
                         if not f.name.startswith((".", PREFIX))]
                if batch:
                    from fairtel.rating import state_from_rated

                    frame = state_from_rated(pl.scan_parquet(batch), self.catalog)
                self._state[period] = _PeriodState(frame)
        return self._state[period]

    # --- rating -----------------------------------------------------------------------------------------------
    def rate_file(self, file: str, parts: Sequence[str | Path], *, arrived_at: datetime) -> OnlineResult:
        """Rate the records of one committed file (its lake ``parts``). ``file``: a stable name for it (the
        content hash mediation gives it); rating a file already in the log is a no-op."""
        prior = next((e for e in self.log.entries if e["file"] == file), None)
        if prior is not None:
            return OnlineResult(prior["seq"], file, prior["records"], prior["lines"], prior["unrated"],
                                prior["amount_minor"], tuple(prior["periods"]),
                                datetime.fromisoformat(prior["arrived_at"]), datetime.fromisoformat(prior["rated_at"]),
                                skipped=True)
        seq = (self.log.entries[-1]["seq"] + 1) if self.log.entries else 1
        name = self._name(seq, file)
        paths = [Path(p) for p in parts if Path(p).exists()]
        usage = _read(paths)
        from fairtel.rating import rate

        tz = self.catalog.operator.timezone
        periods: list[str] = []
        lines = unrated = amount = 0
        new_state: dict[str, _PeriodState] = {}
        if usage.height:
            keyed = usage.with_columns(
                pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("_period"))
            for (key,), frame in sorted(keyed.partition_by("_period", as_dict=True, include_key=False).items()):
                period = str(key)
                before = self._period_state(period)
                opening = before.frame
                mine = frame.select("msisdn").unique()
                # the register rows and the counters of this file's subscribers (and the other counters): one
                # membership test against the file's numbers each (cheaper than a join over the larger side)
                named = pl.col("msisdn").is_in(mine["msisdn"].implode()).fill_null(False)
                touched = opening.select(named).to_series()
                result = rate(frame, self.catalog, self.subscribers.filter(named), period=Period.parse(period, tz),
                              gate=self.gate, opening_state=opening.filter(touched))
                write_part(result.rated, self.lake / RATED / f"period={period}" / f"{name}.parquet", atomic=True)
                if result.unrated.height:
                    write_part(result.unrated, self.lake / UNRATED / f"period={period}" / f"{name}.parquet", atomic=True)
                # the closing state holds every counter of the subscribers it names (their opening rows too)
                delta = result.closing_state
                state = pl.concat([opening.filter(~touched), delta])
                after, whole = before.after(state, delta.height)
                out = self.lake / STATE / f"period={period}"
                if whole:
                    write_part(state, out / f"{name}{FULL}.parquet", atomic=True, keep_empty=True)
                else:
                    write_part(delta, out / f"{name}.parquet", atomic=True, keep_empty=True)
                new_state[period] = after
                periods.append(period)
                lines += result.rated.height
                unrated += result.unrated.height
                amount += int(result.rated["amount_minor"].sum() or 0)
        rated_at = datetime.now(UTC)
        entry = {"seq": seq, "file": file, "records": usage.height, "lines": lines, "unrated": unrated,
                 "amount_minor": amount, "periods": periods, "arrived_at": arrived_at.astimezone(UTC).isoformat(),
                 "rated_at": rated_at.isoformat()}
        self.log.append(entry)  # the commit
        self._state.update(new_state)
        self._prune(periods)
        return OnlineResult(seq, file, usage.height, lines, unrated, amount, tuple(periods), arrived_at, rated_at)

    def _prune(self, periods: Iterable[str]) -> None:
        """Remove the counter files of each period from before its newest committed snapshot (the names sort by
        sequence number)."""
        for period in periods:
            files = sorted((self.lake / STATE / f"period={period}").glob(f"{PREFIX}*.parquet"))
            full = [i for i, f in enumerate(files) if f.name.endswith(f"{FULL}.parquet")]
            for old in files[: full[-1]] if full else []:
                old.unlink(missing_ok=True)


@dataclass(frozen=True)
class _PeriodState:
    """A period's counters in memory, and what its files on disk hold: whether a snapshot is among them, the
    rows of the deltas written since it and the rows of the snapshot."""

    frame: pl.DataFrame
    snapshot: bool = False
    since: int = 0
    snapshot_rows: int = 0

    def after(self, frame: pl.DataFrame, delta_rows: int) -> tuple[_PeriodState, bool]:
        """The state after one more file, and whether its counters are written as a snapshot (else as a delta)."""
        since = self.since + delta_rows
        if not self.snapshot or since >= max(self.snapshot_rows, SNAPSHOT_MIN_ROWS):
            return _PeriodState(frame, snapshot=True, since=0, snapshot_rows=frame.height), True
        return _PeriodState(frame, snapshot=True, since=since, snapshot_rows=self.snapshot_rows), False


def _read(paths: Sequence[Path]) -> pl.DataFrame:
    if not paths:
        return pl.DataFrame()
    scan = pl.scan_parquet(list(paths), missing_columns="insert")
    names = scan.collect_schema().names()
    return scan.select([c for c in RATING_USAGE_COLUMNS if c in names]).collect()


def timeliness(lake: Path, period: str | None = None) -> list[tuple[datetime, datetime, int]]:
    """(arrived_at, rated_at, records) of each file rated online (of ``period``'s files when given)."""
    log = _Log.read(lake / LOG_DIR / LOG_FILE)
    return [(datetime.fromisoformat(e["arrived_at"]), datetime.fromisoformat(e["rated_at"]), int(e["records"]))
            for e in log.entries if period is None or period in e["periods"]]
