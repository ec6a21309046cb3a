"""Online rating: each file's accepted records rated as soon as mediation has committed them (``fairtel watch
--rate``), with the period's allowance and cap counters carried from file to file.

The batch run (``fairtel rate --period``) rates a whole period in time order and replaces its lines; online
rating gives the subscriber a charge (and the operator revenue, bill-shock and fraud signals) within seconds of
the switch's file, in arrival order. Both use the same kernel; a record's online lines equal its batch lines
whenever the files arrive in time order.

A commit rates one file, or every file that was waiting (``rate_files``): each subscriber's records are ordered
by the file they came in before their start, so the lines and counters are exactly those of one commit per
file in arrival order, however the files happen to be grouped. A call's cost is mostly fixed (a few hundred
frame operations, whatever its size), so a rater that falls behind catches up by taking more files at once.
Per commit and period, in this order:

1. the records are rated with the period's counters as opening state (``rate(..., opening_state=...,
   arrival=...)``);
2. its rated lines and unrated records are written as ``o-<seq>-<file>.parquet`` parts of ``rated`` and
   ``unrated`` (``file``: the commit's first file), and the counters after it under ``rating_state/period=P/``
   (each to a hidden name, fsynced, then renamed): as a delta ``o-<seq>-<file>.parquet``, every counter of the
   subscribers the commit names (those rows are the whole state of those subscribers), or as a snapshot
   ``o-<seq>-<file>.full.parquet``, every counter of the period;
3. one line ``{seq, file, files: [{file, records, periods, by_period, parts, arrived_at}], periods, records, lines,
   unrated, amount_minor, rated_at}`` is appended to ``rating_log/online.jsonl`` and fsynced: that line is the
   commit of all its files (``parts``: each file's usage parts, relative to the lake, so that a rerate finds which
   records drew allowances in which order without relying on how mediation names the parts; ``by_period``: how
   many of the file's records fall in each of its periods, so that a period's timeliness counts its own records
   of a file that spans two).

Writing only deltas keeps a file's cost in proportion to the file, not to the operator's millions of
subscribers. A snapshot is written for the period's first online file, and again once the deltas since the
last one hold as many rows as it does (so the deltas never take more room than the state, and each counter row
written costs at most one more row of snapshots); files before the newest snapshot are then removed. The state
is the newest snapshot with, for each subscriber, the rows of the newest delta that names it.

A crash anywhere leaves parts without a log line; the next start removes them, and the files are rated again from
the last committed counters, so nothing is charged twice and nothing is lost. Each commit holds the rating lock of its periods
(``_commit.period_lock``), as does the batch run from listing a period's usage to swapping its lines in, and
recovery takes each period's lock before it removes anything: another process's commit in flight is never
taken for a leftover, and a batch run never swaps out a commit made while it ran.

When a batch run replaced a period (its manifest ``rated/period=P/_batch.json`` names the run and the usage
parts it rated), the records of those parts are charged already and are not rated again, and the period's
counters are read again from its lines (the batch run's and the online parts committed since), so that an
allowance is not granted twice nor a daily cap restarted. Each log line names the batch run its periods'
counters carry on from, so that a rater started afresh knows whether the counter files still hold. The log is also the record of
timeliness: how long after its file arrived each record was rated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Collection, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl

from fairtel.core.time import Period
from fairtel.engines._base import RATED, UNRATED
from fairtel.engines._buckets import write_part
from fairtel.engines._commit import lock, period_lock, period_locks, read_manifest
from fairtel.engines._kernels import RATING_USAGE_COLUMNS

if TYPE_CHECKING:
    from fairtel.catalog import Catalog
    from fairtel.core.settings import Settings
    from fairtel.rating import VasGate

class _Unset:
    """No value given (the period's batch run is then looked up)."""


_UNSET = _Unset()
STATE = "rating_state"
LOG_DIR = "rating_log"
LOG_FILE = "online.jsonl"
PREFIX = "o-"
FULL = ".full"  # a snapshot's name: o-<seq>-<file>.full.parquet
SNAPSHOT_MIN_ROWS = 100_000  # deltas below this many rows since the last snapshot never call for a new one


@dataclass(frozen=True)
class ArrivedFile:
    """A committed usage file waiting to be rated: a stable name for it (the content hash mediation gives it),
    its lake parts and when it arrived."""

    file: str
    parts: Sequence[str | Path]
    arrived_at: datetime


ROAMING_COLUMNS = ("record_id", "msisdn", "started_at", "amount_minor", "currency", "kind", "roaming_country",
                   "roaming_zone", "plan_id", "verdict")
"""The columns of a commit's roaming lines ``OnlineResult.roaming`` keeps."""


def _roaming_lines(rated: pl.DataFrame) -> pl.DataFrame:
    """The lines of ``rated`` made while roaming (a roaming country), with the ``ROAMING_COLUMNS`` they have."""
    if "roaming_country" not in rated.columns:
        return rated.clear().select()
    cols = [c for c in ROAMING_COLUMNS if c in rated.columns]
    country = pl.col("roaming_country")
    lines = rated.filter(country.is_not_null() & (country != "")).select(cols)
    # the catalog's names as strings again (each file's lines code them apart: ``rate(coded=True)``)
    return lines.cast({c: pl.String for c, t in lines.schema.items() if isinstance(t, pl.Enum)})


@dataclass(frozen=True)
class OnlineResult:
    """What one commit did: the files rated together in it (in arrival order, with their records), and the lines,
    unrated records and amount of all of them."""

    seq: int
    files: tuple[tuple[str, int, datetime], ...]  # (file, records, arrived_at)
    lines: int
    unrated: int
    amount_minor: int
    periods: tuple[str, ...]
    rated_at: datetime
    skipped: bool = False
    # the commit's lines made while roaming (``ROAMING_COLUMNS`` those lines have), for the checks made as usage is
    # rated (cap alerts, welcome notices); None for a commit read back from the log
    roaming: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def file(self) -> str:
        return self.files[0][0]

    @property
    def records(self) -> int:
        return sum(n for _, n, _ in self.files)

    @property
    def arrived_at(self) -> datetime:
        return min(t for _, _, t in self.files)

    @property
    def lag_s(self) -> float:
        """From the earliest arrival among the files to the commit."""
        return (self.rated_at - self.arrived_at).total_seconds()

    @classmethod
    def of(cls, entry: dict[str, Any], *, skipped: bool = False) -> OnlineResult:
        return cls(entry["seq"], tuple((f["file"], int(f["records"]), datetime.fromisoformat(f["arrived_at"]))
                                       for f in entry_files(entry)),
                   entry["lines"], entry["unrated"], entry["amount_minor"], tuple(entry["periods"]),
                   datetime.fromisoformat(entry["rated_at"]), skipped=skipped)


def entry_files(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a log entry committed, each ``{file, records, periods, arrived_at}`` with ``parts`` and ``by_period``
    (an entry from before commits of several files names one, at its top level; one from before ``parts`` or
    ``by_period`` has none: ``_records_by_period`` reads a file's records per period whichever it is)."""
    if "files" in entry:
        return list(entry["files"])
    return [{"file": entry["file"], "records": entry["records"], "periods": entry["periods"],
             "arrived_at": entry["arrived_at"]}]


@dataclass
class _Log:
    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0  # bytes of the file as read and appended to by this process

    @classmethod
    def read(cls, path: Path, *, repair: bool = False) -> _Log:
        """The committed entries. ``repair`` (the rater, which alone appends): drop a torn last line from the
        file; a reader never rewrites it (the rater may be appending that very line)."""
        log = cls(path)
        if path.exists():
            data = path.read_bytes()
            log.size = len(data)
            text = data.decode("utf-8", errors="replace")
            for line in text.splitlines():
                try:
                    log.entries.append(json.loads(line))
                except json.JSONDecodeError:  # a line torn by a crash: not committed
                    break
            good = "".join(json.dumps(e, sort_keys=True) + "\n" for e in log.entries)
            if repair and good != text:  # drop the torn tail so that the next append starts on a clean line
                _write_atomic(path, good.encode())
                log.size = len(good.encode())
        return log

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        with self.path.open("ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.entries.append(entry)
        self.size += len(line)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def batch_of(lake: Path, period: str) -> tuple[str | None, frozenset[str]]:
    """The batch run whose lines ``period`` holds in ``lake`` (None: no batch run) and the usage parts it rated, as
    the rating log names it. A batch run from before manifests is named after its parts (then which usage it rated
    is not known)."""
    d = lake / RATED / f"period={period}"
    found = read_manifest(d)
    if found is not None:
        return found
    parts = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in d.glob("*.parquet")
                   if not p.name.startswith((".", "_", PREFIX)))
    if not parts:
        return None, frozenset()
    return "parts-" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16], frozenset()


def _with_holder(rows: pl.DataFrame, register: pl.DataFrame, names: pl.Series,
                 lines: pl.DataFrame | None) -> pl.DataFrame:
    """``rows`` (the changed lines' plans) with the register's ``holder_since`` (an owner change) when the register
    carries it and they do not: from ``lines`` (their line states, ``cli._home.home_lines``) when those say it, else
    as the register had it. Rating counts allowances per holding (``rating.rate``)."""
    if "holder_since" not in register.columns or "holder_since" in rows.columns:
        return rows
    if lines is not None and "holder_since" in lines.columns:
        known = lines.select(pl.col("msisdn").cast(pl.String),
                             pl.col("holder_since").cast(pl.Datetime("us", "UTC"))).unique("msisdn")
    else:
        known = register.filter(pl.col("msisdn").is_in(names.implode())).select("msisdn", "holder_since").unique("msisdn")
    return rows.join(known, on="msisdn", how="left", maintain_order="left")


class OnlineRater:
    """Rates committed usage files one after another, carrying each period's counters. Not thread-safe: one
    rater per home (``fairtel watch --rate`` starts it holding mediation's lock, and each pass over the inbox
    holds that lock). ``catalog`` (and ``gate``) may be replaced between commits, as the watch does when another
    catalog version is loaded: the counters are keyed by allowance ids, cap rule ids and charge keys, so those the
    new version keeps carry on (the others are kept, drawn by no rule)."""

    def __init__(self, settings: Settings, *, catalog: Catalog, subscribers: pl.DataFrame,
                 gate: VasGate | None = None) -> None:
        self.lake = settings.lake_dir
        self.catalog = catalog
        self.subscribers = subscribers
        self.gate = gate
        with lock(self.lake, "log"):  # no other rater is appending the line a repair would take for torn
            self.log = _Log.read(self.lake / LOG_DIR / LOG_FILE, repair=True)
        self._state: dict[str, _PeriodState] = {}
        self._by_file: dict[str, dict[str, Any]] = {}
        self._by_file_entries = 0  # how many log entries ``_by_file`` holds
        self._recover()

    @property
    def subscribers(self) -> pl.DataFrame:
        return self._subscribers

    @subscribers.setter
    def subscribers(self, frame: pl.DataFrame) -> None:
        """The register, checked once here (a number listed twice is an error); each file is rated with the rows
        of the subscribers it names. A register with ``effective_from`` (each line's plans through time, as
        ``cli._home.home_plans`` reads them) rates each record under the plan in force for its period, so a record
        of a period before a plan change is charged under the plan the line was on then."""
        from fairtel.rating import normalise_subscribers

        self._subscribers = normalise_subscribers(frame)
        self._register_keys = numeric_keys(self._subscribers["msisdn"])

    def update_register(self, msisdns: Collection[str], plans: pl.DataFrame, *,
                        lines: pl.DataFrame | None = None) -> None:
        """Take what changed in the register since it was read, at a cost in proportion to the change, not to the
        register (``store.register_changes`` names the lines): ``plans`` are all the rows of the lines ``msisdns``
        as the register is read (their plans through time, ``store.plan_timeline(conn, msisdns=...)``; none: the
        line left the register), and replace theirs; every other line keeps its rows. ``lines``: their line states
        (``cli._home.home_lines``'s columns) for a consent gate that checks lines (``rating.consent_gate(...,
        lines=...)``): their rows in it are worked out again against the gate's subscriptions. A gate of another
        kind is the caller's to build again. The plan in force for each record's period and the gate's verdicts
        are then those of a register read whole."""
        from fairtel.rating import normalise_subscribers

        names = pl.Series("msisdn", sorted(set(msisdns)), dtype=pl.String)
        rows = _with_holder(normalise_subscribers(plans), self._subscribers, names, lines)
        if set(rows.columns) != set(self._subscribers.columns):  # a plan history against a plain register, say
            raise ValueError(f"plans with columns {rows.columns}, the register has {self._subscribers.columns}")
        if stray := rows.filter(~pl.col("msisdn").is_in(names.implode()))["msisdn"].unique().sort().head(3).to_list():
            raise ValueError(f"plans of lines not named as changed: {', '.join(stray)}")
        kept = ~self._subscribers["msisdn"].is_in(names.implode())
        frame = pl.concat([self._subscribers.filter(kept), rows.select(self._subscribers.columns)])
        keys, new = self._register_keys, numeric_keys(rows["msisdn"])
        self._subscribers = frame  # the integer keys carried over row for row, not worked out again
        self._register_keys = (pl.concat([keys.filter(kept), new]) if keys is not None and new is not None
                               else numeric_keys(frame["msisdn"]))
        if lines is not None:
            self.gate = _with_lines(self.gate, names, lines)

    def _register_of(self, numbers: _Numbers) -> pl.DataFrame:
        """The register rows of the subscribers ``numbers`` names (and perhaps a few more, see
        ``_PeriodState.touched``): a membership test over integers when every registered number is digits."""
        return self._subscribers.filter(numbers.named(self._subscribers["msisdn"], self._register_keys))

    # --- state ----------------------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Remove what a crash left without a log line (parts, counters, hidden files): each period under its
        lock, with the log as it stands then, so that another process's commit in flight is never taken for
        a leftover."""
        periods = {d.name.removeprefix("period=") for dataset in (RATED, UNRATED, STATE)
                   for d in (self.lake / dataset).glob("period=*") if d.is_dir()}
        for period in sorted(periods):
            with period_lock(self.lake, period):
                self._reload()
                committed = {self._name(e["seq"], e["file"]) for e in self.log.entries}
                for dataset in (RATED, UNRATED, STATE):
                    for p in (self.lake / dataset / f"period={period}").glob("*"):
                        stem = p.name.removeprefix(".").removesuffix(".tmp").removesuffix(".parquet").removesuffix(FULL)
                        if stem.startswith(PREFIX) and (p.name.startswith(".") or stem not in committed):
                            p.unlink(missing_ok=True)

    def _reload(self) -> bool:
        """Read the log again if another process appended to it since (its counters then read afresh too)."""
        size = self.log.path.stat().st_size if self.log.path.exists() else 0
        if size == self.log.size:
            return False
        self.log = _Log.read(self.log.path)
        self._state.clear()
        self._by_file.clear()
        self._by_file_entries = 0
        return True

    def _batch(self, period: str) -> tuple[str | None, frozenset[str]]:
        """The period's batch run and the usage parts it rated (``batch_of``)."""
        return batch_of(self.lake, period)

    @staticmethod
    def _name(seq: int, file: str) -> str:
        return f"{PREFIX}{seq:08d}-{file}"

    def done(self, file: str) -> bool:
        return self._committed(file) is not None

    def _committed(self, file: str) -> dict[str, Any] | None:
        for e in self.log.entries[self._by_file_entries:]:
            self._by_file.update((f["file"], e) for f in entry_files(e))
        self._by_file_entries = len(self.log.entries)
        return self._by_file.get(file)

    def state(self, period: str) -> pl.DataFrame:
        """The period's counters after the last committed file."""
        return self._period_state(period).frame

    def _period_state(self, period: str, batch: str | _Unset | None = _UNSET) -> _PeriodState:
        """The period's counters. They carry on from the committed online files while the period's lines are
        those the online commits were rated against (``batch``: the batch run under them, if any); once a batch
        run replaced the period they are read again from its lines (and the online parts committed after it), so
        that no allowance is granted twice nor a daily cap restarted."""
        if isinstance(batch, _Unset):
            batch = self._batch(period)[0]
        cached = self._state.get(period)
        if cached is None or cached.batch != batch:
            from fairtel.rating import STATE_COLUMNS

            entries = [e for e in self.log.entries if period in e["periods"]]
            d = self.lake / STATE / f"period={period}"
            if entries and entries[-1].get("batch", {}).get(period) == batch:
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
                self._state[period] = _PeriodState.of(base, snapshot=last_full >= 0, since=since,
                                                      snapshot_rows=snapshot_rows, batch=batch)
            else:
                frame = pl.DataFrame(schema=STATE_COLUMNS)
                # a period (re)rated by the batch run: carry on from the counters its lines record, with those
                # of the online files committed since (the next commit writes them as a snapshot)
                lines = [f for f in sorted((self.lake / RATED / f"period={period}").glob("*.parquet"))
                         if not f.name.startswith((".", "_"))]
                if lines:
                    from fairtel.rating import state_from_rated

                    # the gate's subscriptions: a charge keyed as the gate keys it (by its unbroken coverage)
                    frame = state_from_rated(pl.scan_parquet(lines), self.catalog,
                                             getattr(self.gate, "subscriptions", None),
                                             holdings=self._subscribers if "holder_since" in self._subscribers.columns
                                             else None)
                self._state[period] = _PeriodState.of(frame, batch=batch)
        return self._state[period]

    # --- rating -----------------------------------------------------------------------------------------------
    def rate_file(self, file: str, parts: Sequence[str | Path], *, arrived_at: datetime) -> OnlineResult:
        """Rate the records of one committed file (its lake ``parts``). ``file``: a stable name for it (the
        content hash mediation gives it); rating a file already in the log is a no-op."""
        return self.rate_files([ArrivedFile(file, parts, arrived_at)])[0]

    def rate_files(self, files: Sequence[ArrivedFile]) -> list[OnlineResult]:
        """Rate committed files, in the order given, in one commit: each subscriber's records are ordered by
        the file they came in before their start (``rate(..., arrival=...)``), so the lines and counters are
        those of rating the files one commit each, in that order, whatever number of them come together. Files
        already in the log are skipped. Returns the earlier commits of skipped files (``skipped``), then this
        commit's result, if any file was new."""
        # the periods of the files' parts, locked from the log's check to the commit: a batch run of one of them
        # is then either done (its lines and manifest in place) or not started
        locked = {Path(p).parent.name.removeprefix("period=") for f in files for p in f.parts
                  if Path(p).parent.name.startswith("period=")}
        with period_locks(self.lake, locked) as stack:
            self._reload()  # another process may have committed since
            out: list[OnlineResult] = []
            todo: list[ArrivedFile] = []
            for f in files:
                prior = self._committed(f.file)
                if prior is not None:
                    if not any(r.seq == prior["seq"] for r in out):
                        out.append(OnlineResult.of(prior, skipped=True))
                elif all(t.file != f.file for t in todo):
                    todo.append(f)
            if todo:
                out.append(self._commit(todo, stack, locked))
        return out

    def _commit(self, files: Sequence[ArrivedFile], stack: ExitStack, locked: set[str]) -> OnlineResult:
        seq = (self.log.entries[-1]["seq"] + 1) if self.log.entries else 1
        name = self._name(seq, files[0].file)
        batches: dict[str, tuple[str | None, frozenset[str]]] = {}

        def period_batch(period: str) -> tuple[str | None, frozenset[str]]:
            if period not in locked:  # a record's period that its part's directory did not name
                stack.enter_context(period_lock(self.lake, period))
                locked.add(period)
            if period not in batches:
                batches[period] = self._batch(period)
            return batches[period]

        def rated_by_batch(part: Path) -> bool:
            """A usage part the period's batch run rated: its records are charged already."""
            folder = part.parent.name
            return folder.startswith("period=") and part.name in period_batch(folder.removeprefix("period="))[1]

        usage = _read([[Path(p) for p in f.parts if Path(p).exists() and not rated_by_batch(Path(p))] for f in files])
        from fairtel.rating import rate

        tz = self.catalog.operator.timezone
        periods: list[str] = []
        lines = unrated = amount = 0
        new_state: dict[str, _PeriodState] = {}
        counts = [0] * len(files)
        roaming: list[pl.DataFrame] = []
        file_periods: list[dict[str, int]] = [{} for _ in files]
        if usage.height:
            by_period = _by_period(usage, tz)
            for k, p, n in by_period[1]:
                counts[k] += n
                file_periods[k][p] = n
            for period, frame in by_period[0]:
                before = self._period_state(period, period_batch(period)[0])
                opening = before.frame
                mine = _Numbers(frame["msisdn"])
                # the register rows and the counters of these files' subscribers (and the other counters): one
                # membership test against the files' numbers each (cheaper than a join over the larger side)
                touched = before.touched(mine).fill_null(False)
                result = rate(frame, self.catalog, self._register_of(mine), period=Period.parse(period, tz),
                              gate=self.gate, opening_state=opening.filter(touched),
                              arrival=ARRIVAL if len(files) > 1 else None, coded=True)
                write_part(result.rated, self.lake / RATED / f"period={period}" / f"{name}.parquet", atomic=True)
                roaming.append(_roaming_lines(result.rated))
                if result.unrated.height:
                    write_part(result.unrated, self.lake / UNRATED / f"period={period}" / f"{name}.parquet", atomic=True)
                # the closing state holds every counter of the subscribers it names (their opening rows too)
                delta = result.closing_state
                after, whole = before.after(~touched, delta)
                out = self.lake / STATE / f"period={period}"
                if whole:
                    write_part(after.frame, out / f"{name}{FULL}.parquet", atomic=True, keep_empty=True)
                else:
                    write_part(delta, out / f"{name}.parquet", atomic=True, keep_empty=True)
                new_state[period] = after
                periods.append(period)
                lines += result.rated.height
                unrated += result.unrated.height
                amount += int(result.rated["amount_minor"].sum() or 0)
        rated_at = datetime.now(UTC)
        entry = {"seq": seq, "file": files[0].file, "records": usage.height, "lines": lines, "unrated": unrated,
                 "amount_minor": amount, "periods": periods, "rated_at": rated_at.isoformat(),
                 "files": [{"file": f.file, "records": n, "periods": list(ps), "by_period": ps,
                            "parts": [self._relative(p) for p in f.parts],
                            "arrived_at": f.arrived_at.astimezone(UTC).isoformat()}
                           for f, n, ps in zip(files, counts, file_periods, strict=True)]}
        # the batch run each period's counters carry on from: a rater started afresh reads them from the
        # counter files only while the period still holds that run's lines
        if under := {p: b for p in periods if (b := period_batch(p)[0]) is not None}:
            entry["batch"] = under
        with lock(self.lake, "log"):
            self.log.append(entry)  # the commit: one line, whatever the number of files
        self._state.update(new_state)
        self._prune(periods)
        away = [r for r in roaming if r.width and r.height]
        return dataclasses.replace(OnlineResult.of(entry),
                                   roaming=pl.concat(away, how="diagonal_relaxed") if away else None)

    def _relative(self, part: str | Path) -> str:
        """A usage part's path as the log names it: relative to the lake (as given when it lies elsewhere)."""
        path = Path(part)
        try:
            return path.resolve().relative_to(self.lake.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

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
    rows of the deltas written since it and the rows of the snapshot. ``keys``: each row's number as an integer
    (None unless every number is plain digits), for the membership tests each commit makes over the whole
    state (about ten times cheaper than over the strings)."""

    frame: pl.DataFrame
    snapshot: bool = False
    since: int = 0
    snapshot_rows: int = 0
    keys: pl.Series | None = field(default=None, compare=False)
    batch: str | None = None  # the batch run whose lines the counters carry on from

    @classmethod
    def of(cls, frame: pl.DataFrame, **kw: Any) -> _PeriodState:
        """The state of ``frame`` as read or worked out afresh, its integer keys computed once here (a commit
        carries them over in ``after``)."""
        return cls(frame, keys=numeric_keys(frame["msisdn"]), **kw)

    def touched(self, numbers: _Numbers) -> pl.Series:
        """Which rows belong to the subscribers ``numbers`` names (see ``_Numbers.named``)."""
        return numbers.named(self.frame["msisdn"], self.keys)

    def after(self, untouched: pl.Series, delta: pl.DataFrame) -> tuple[_PeriodState, bool]:
        """The state after one more commit (the rows not ``untouched`` replaced by ``delta``), and whether its
        counters are written as a snapshot (else as a delta)."""
        frame = pl.concat([self.frame.filter(untouched), delta])
        new = numeric_keys(delta["msisdn"])
        keys = pl.concat([self.keys.filter(untouched), new]) if self.keys is not None and new is not None else None
        since = self.since + delta.height
        if not self.snapshot or since >= max(self.snapshot_rows, SNAPSHOT_MIN_ROWS):
            return _PeriodState(frame, snapshot=True, since=0, snapshot_rows=frame.height, keys=keys,
                                batch=self.batch), True
        return _PeriodState(frame, snapshot=True, since=since, snapshot_rows=self.snapshot_rows, keys=keys,
                            batch=self.batch), False


class _Numbers:
    """The numbers of a commit's records: distinct, as strings and as integers (those that read as one), each
    worked out when first asked for."""

    def __init__(self, msisdn: pl.Series) -> None:
        self._msisdn = msisdn

    @cached_property
    def strings(self) -> pl.Series:
        return self._msisdn.unique()

    @cached_property
    def ints(self) -> pl.Series:
        return self._msisdn.cast(pl.Int64, strict=False).drop_nulls().unique()

    def named(self, msisdn: pl.Series, keys: pl.Series | None) -> pl.Series:
        """Which of the rows ``msisdn`` (with their integer ``keys``, when every one is digits) are numbers named
        here: every one of them, and perhaps a few more (``"086…"`` and ``"86…"`` read as one integer), which is
        harmless to a caller that hands these rows to rating and keeps the others as they are."""
        if keys is not None:
            return keys.is_in(self.ints.implode())
        return msisdn.is_in(self.strings.implode())


def _with_lines(gate: VasGate | None, names: pl.Series, lines: pl.DataFrame) -> VasGate | None:
    """``gate`` with the line states of the lines ``names`` taken from ``lines`` (their register rows): a gate that
    keeps the lines that restrict charges (``rating.consent_gate``'s ``lines``, kept as ``consent.line_states``
    keeps them, against its subscriptions); any other gate as it is."""
    kept = getattr(gate, "lines", None)
    subscriptions = getattr(gate, "subscriptions", None)
    if gate is None or kept is None or not isinstance(subscriptions, pl.DataFrame) or not dataclasses.is_dataclass(gate):
        return gate
    from fairtel.consent import line_states

    theirs = subscriptions.filter(pl.col("msisdn").cast(pl.String).is_in(names.implode()))
    fresh = line_states(lines.filter(pl.col("msisdn").is_in(names.implode())), subscriptions=theirs)
    merged = pl.concat([kept.filter(~pl.col("msisdn").is_in(names.implode())), fresh.select(kept.columns)])
    from fairtel.rating._vas import with_holdings

    # the subscriptions carry the lines' holdings (an owner change landing while watching), so that the charge keys
    # rebuilt from rated lines (``state_from_rated``) are the gate's own
    subscriptions = with_holdings(subscriptions, merged)
    if not any(f.name == "windows" for f in dataclasses.fields(gate)):
        return dataclasses.replace(gate, lines=merged, subscriptions=subscriptions)
    # the suspensions that ended, of the changed lines too (a line brought back into service while watching keeps
    # the window its usage made during the suspension is held in)
    from fairtel.rating._vas import suspension_frame

    old = getattr(gate, "windows", None)
    theirs_now = suspension_frame(lines.filter(pl.col("msisdn").is_in(names.implode())))
    parts = [w for w in (None if old is None else old.filter(~pl.col("msisdn").is_in(names.implode())), theirs_now)
             if w is not None and w.height]
    windows = pl.concat(parts) if parts else None
    return dataclasses.replace(gate, lines=merged, subscriptions=subscriptions, windows=windows)


def _by_period(usage: pl.DataFrame, tz: str) -> tuple[list[tuple[str, pl.DataFrame]], list[tuple[int, str, int]]]:
    """The records of each billing period (on the catalog's clock ``tz``), and (file, period, records) counts.
    A commit's records nearly always fall in one period: found from the earliest and latest start alone."""
    lo, hi = usage.select(pl.col("started_at").min().alias("lo"), pl.col("started_at").max().alias("hi")).row(0)
    zone = ZoneInfo(tz)
    first, last = lo.astimezone(zone).strftime("%Y-%m"), hi.astimezone(zone).strftime("%Y-%m")
    if first == last:
        counts = usage.group_by(ARRIVAL).len().sort(ARRIVAL)
        return [(first, usage)], [(k, first, n) for k, n in counts.iter_rows()]
    keyed = usage.with_columns(pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("_period"))
    counts = keyed.group_by(ARRIVAL, "_period").len().sort(ARRIVAL, "_period")
    frames = sorted(keyed.partition_by("_period", as_dict=True, include_key=False).items())
    return [(str(key), frame) for (key,), frame in frames], [(k, p, n) for k, p, n in counts.iter_rows()]


def numeric_keys(numbers: pl.Series) -> pl.Series | None:
    """``numbers`` as integers when every one is plain digits that the integer gives back, else None."""
    ints = numbers.cast(pl.Int64, strict=False)
    if ints.null_count() != numbers.null_count() or not bool((ints.cast(pl.String) == numbers).all()):
        return None
    return ints


ARRIVAL = "_file"  # which of a commit's files a record came in (0, 1, ...)


def _read(files: Sequence[Sequence[Path]]) -> pl.DataFrame:
    """The rating columns of each file's parts, with the file's position in ``ARRIVAL``."""
    frames = []
    for k, paths in enumerate(files):
        if not paths:
            continue
        scan = pl.scan_parquet(list(paths), missing_columns="insert", extra_columns="ignore")
        names = scan.collect_schema().names()
        frames.append(scan.select(*(c for c in RATING_USAGE_COLUMNS if c in names),
                                  pl.lit(k, dtype=pl.Int64).alias(ARRIVAL)))
    if not frames:
        return pl.DataFrame(schema={ARRIVAL: pl.Int64()})
    return pl.concat(pl.collect_all(frames), how="diagonal_relaxed")


def timeliness(lake: Path, period: str | None = None) -> list[tuple[datetime, datetime, int]]:
    """(arrived_at, rated_at, records) of each file rated online; with ``period``, of its files and each one's records
    of that period alone (a file spanning two periods counts each record once, in the period it falls in)."""
    log = _Log.read(lake / LOG_DIR / LOG_FILE)
    out = []
    for e in log.entries:
        for f in entry_files(e):
            if period is not None and period not in f["periods"]:
                continue
            n = int(f["records"]) if period is None else _records_by_period(lake, f).get(period, 0)
            if n or period is None:
                out.append((datetime.fromisoformat(f["arrived_at"]), datetime.fromisoformat(e["rated_at"]), n))
    return out


def _records_by_period(lake: Path, f: dict[str, Any]) -> dict[str, int]:
    """How many of a logged file's records (``entry_files``) fall in each of its periods: ``by_period`` as logged.
    A line from before ``by_period`` whose file spans several periods is split by its usage parts (mediation writes
    one a period, under ``period=P/``) when those still hold the records logged, else counted in its first period."""
    if "by_period" in f:
        return {str(p): int(n) for p, n in f["by_period"].items()}
    periods, records = [str(p) for p in f["periods"]], int(f["records"])
    if len(periods) <= 1:
        return dict.fromkeys(periods, records)
    import pyarrow.parquet as pq

    split: dict[str, int] = {}
    for rel in f.get("parts", ()):
        part = lake / rel
        folder = part.parent.name
        if not folder.startswith("period=") or not part.exists():
            continue
        key = folder.removeprefix("period=")
        split[key] = split.get(key, 0) + pq.read_metadata(part).num_rows
    if sum(split.values()) == records and set(split) == set(periods):
        return split
    return {periods[0]: records}
