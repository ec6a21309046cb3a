"""``ingest_files``: files in, clean usage records in the lake, every record accounted for.

Per file: read (any reader) -> validate -> dedup on (source, record_id) -> whole records to the lake, parts of
partial records to the holding area -> sessions that are complete or timed out stitched and emitted ->
one commit (see ``_state`` for the protocol). ``read = accepted + rejected + duplicate`` for every file;
``accepted`` counts parts held for stitching, ``emitted`` what this file wrote to the lake.
"""

from __future__ import annotations

import hashlib
import queue
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fairtel.core.errors import FairtelError
from fairtel.core.settings import Settings
from fairtel.mediation._keys import KeyIndex, key_hashes, single_value
from fairtel.mediation._output import PartWriter, RejectsWriter, filter_rows, remove_parts
from fairtel.mediation._partials import Clash, conflicting_parts, held_from, held_ids, hold, late_parts, release
from fairtel.mediation._state import FileRecord, MediationState, check_lake_complete, inbox_lock
from fairtel.mediation._validate import FUTURE_TOLERANCE_S, Reason, Validated, validate
from fairtel.mediation.readers import POS, Reader, Reject, detect, get_reader, refuse_compressed, unpacked
from fairtel.mediation.readers._base import bulk_default_pool
from fairtel.mediation.readers._delimited import BOMS
from fairtel.mediation.readers._errors import UnknownFormatError
from fairtel.mediation.readers._fieldmap import FieldMap, FieldMapReader, bundled_fieldmaps, load_fieldmap

CANONICAL_SOURCE = "canonical"
T = TypeVar("T")
HEAD_BYTES = 1 << 16
UNPACKED = "unpacked"  # under the home's mediation state: compressed files' content while they are read
# Records per batch at most, whatever ``Settings.batch_size`` allows: about eight batches are in flight at once
# (read, validated, deduplicated, queued for the lake writer, being written), and past this size a larger
# batch costs memory without making anything faster (the lake writer gathers batches into its row groups).
BATCH_ROWS = 1 << 18


class Progress(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...

    def note(self, message: str) -> None: ...


class _Quiet:
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class Status:
    INGESTED = "ingested"
    ALREADY = "already_ingested"
    EMPTY = "empty"
    FAILED = "failed"


@dataclass(slots=True)
class FileReport:
    """What happened to one file. ``read == accepted + rejected + duplicate`` always."""

    file: str
    format: str | None = None
    # ``already_ingested`` only: the ``--format`` / ``--source`` asked for, when it is not the one the file was
    # ingested with (``format`` and ``source`` then say what that was). Not applied: a file is read once.
    format_requested: str | None = None
    source_requested: str | None = None
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    status: str = Status.INGESTED
    message: str = ""
    source: str | None = None
    content_hash: str | None = None
    held: int = 0
    emitted: int = 0
    # parts held from earlier files, refused when this file released their session (a sequence number held twice,
    # from before such parts were refused on arrival): in this file's rejects file, each naming its own file and
    # line, and not counted in ``rejected`` (they are not this file's records)
    held_refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    parts: list[str] = field(default_factory=list)
    arrived_at: str | None = None  # when ``watch`` first saw the file (ISO 8601, UTC)
    # the zone its times written without an offset were read in (an IANA name): set for the formats that write
    # the switch's local time (Asterisk and FreeSWITCH CSV, FreeSWITCH JSON records without epochs; a field map,
    # its own zone), None for those whose times carry their offsets
    timezone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return self.status != Status.FAILED


_BLANK = b" \t\r\n\x0b\x0c"


def _only_blank_lines(path: Path) -> bool:
    """Whether the file holds nothing but white space and line ends (after a BOM): no reader finds a record
    in it, so it is empty rather than of an unknown format. Stops at the first other byte, which is almost
    always in the first block."""
    with open(path, "rb") as f:
        chunk = f.read(HEAD_BYTES)
        for bom, _ in BOMS:
            chunk = chunk.removeprefix(bom)
        while chunk:
            if chunk.lstrip(_BLANK):  # no copy when the first byte is not blank, as in any file with records
                return False
            chunk = f.read(1 << 20)
    return True


def content_hash(path: Path) -> str:
    with open(path, "rb") as f:  # read into one reused buffer: no allocation per chunk
        return hashlib.file_digest(f, "sha256").hexdigest()


class _Hasher:
    """``content_hash`` of a file on a thread of its own (hashlib releases the GIL), so a file's records are
    read, checked and deduplicated while its hash, which names what the file writes and says whether it was
    ingested before, is still being computed."""

    def __init__(self, path: Path) -> None:
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(path,), name="fairtel-hash", daemon=True)
        self._thread.start()

    def _work(self, path: Path) -> None:
        try:
            self._digest = content_hash(path)
        except BaseException as exc:
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


class _AlreadyIngested(Exception):
    def __init__(self, prev: FileRecord) -> None:
        self.prev = prev


# The zone of the switches' clocks for this ingest or watch (``switch_clock``); None: the operator's.
_SWITCH_CLOCK: ContextVar[str | None] = ContextVar("fairtel_switch_clock", default=None)


@contextmanager
def switch_clock(timezone: str | None) -> Iterator[None]:
    """Files ingested meanwhile (in this thread) whose format writes local times without an offset (Asterisk and
    FreeSWITCH CSV) are read on this zone's clock instead of the operator's (``fairtel ingest``/``watch
    --timezone``). None changes nothing."""
    if timezone is None:
        yield
        return
    token = _SWITCH_CLOCK.set(timezone)
    try:
        yield
    finally:
        _SWITCH_CLOCK.reset(token)


def resolve_reader(path: Path, fmt: str | None, *, timezone: str | None = None) -> Reader:
    """The reader for ``--format`` (a name, or ``fieldmap:PATH|NAME``), or the one that recognises the file.
    ``timezone``: the zone of the switch's clock, for the switch formats that write local times (a field map
    names its own). A compressed file or archive fails (``compressed_file``), the format named or not: no reader
    reads one, and its compressed bytes would be refused record by record as undecodable (``ingest`` reads a
    gzip, bzip2 or xz file through ``unpacked`` first)."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    refuse_compressed(path, head)
    if fmt:
        if fmt.startswith("fieldmap:"):
            return FieldMapReader(load_fieldmap(fmt.removeprefix("fieldmap:")))
        try:
            return get_reader(fmt, timezone=timezone)
        except ValueError as exc:
            raise UnknownFormatError(str(exc)) from None
        except ImportError as exc:
            raise UnknownFormatError(f"format {fmt!r} needs a decoder that is not installed: {exc}") from None
    reader = detect(path, head, timezone=timezone)
    if reader is None:
        bundled = ", ".join(f"fieldmap:{name}" for name in bundled_fieldmaps())
        raise UnknownFormatError(
            f"{path}: cannot tell the format (not canonical CSV/JSON Lines/Parquet nor a known switch or roaming "
            "format); name it with --format, or describe the layout in a field map (--format fieldmap:PATH"
            + (f"; bundled: {bundled})" if bundled else ")"))
    return reader


REREAD_DOC = 'docs/formats.md, "Reading a file again"'


def _already(rep: FileReport, digest: str, prev: FileRecord, *, fmt: str | None = None, source: str | None = None,
             unusable: str | None = None) -> FileReport:
    """The report of a file registered before (same bytes): what it was ingested as. ``fmt`` and ``source``: the
    format (a reader's label; the text of ``--format`` when it could not be used, ``unusable`` saying why) and
    the source asked for explicitly, said to be not applied when they are not what the file was ingested with."""
    rep.status, rep.format, rep.source, rep.content_hash = Status.ALREADY, prev.format, prev.source, digest
    rep.rejects_file, rep.parts = prev.rejects_file, prev.parts
    rep.message = (f"already ingested as {prev.name} at {prev.ingested_at} with format {prev.format} (read "
                   f"{prev.read}, accepted {prev.accepted}, rejected {prev.rejected}, duplicate {prev.duplicate}); "
                   "nothing to do")
    ignored = []
    if fmt is not None and fmt != prev.format:
        rep.format_requested = fmt
        why = f", and cannot be used ({unusable})" if unusable else ""
        ignored.append(f"--format {fmt} differs from the format the file was ingested with ({prev.format}){why}")
    if source is not None and source != prev.source:
        rep.source_requested = source
        ignored.append(f"--source {source} differs from the source its records were ingested under ({prev.source})")
    if ignored:
        rep.message += (f"; not applied: {'; '.join(ignored)}. A file is read once, under the format and source of "
                        f"its first ingest; to mediate it again see {REREAD_DOC}")
    elif fmt is not None and fmt.startswith("fieldmap:"):
        rep.message += (f"; the field map given now is not applied, even if it was changed since (a file is read "
                        f"once; a field map is known by its name): see {REREAD_DOC}")
    return rep


def _label(reader: Reader) -> str:
    return str(getattr(reader, "label", reader.name))


def reader_zone(reader: Reader) -> str | None:
    """The zone ``reader`` reads times written without an offset in (an IANA name), or None for a format whose
    times carry their offsets: the switch's clock of Asterisk and FreeSWITCH readers (``--timezone``, else the
    operator's), a field map's own zone (its ``[input] timezone``)."""
    tz = getattr(reader, "tz", None)
    if isinstance(tz, ZoneInfo):
        return tz.key
    fmap = getattr(reader, "fmap", None)
    if not isinstance(fmap, FieldMap):
        return None
    for rule in fmap.rules:
        if rule.field == "started_at":
            fmt = rule.format or fmap.timestamp_format
            # RFC 3339 text and epochs carry their offsets, as does a format reading one (%z)
            if fmt is None or fmt in ("epoch", "epoch_ms") or "%z" in fmt:
                return None
            return rule.timezone or fmap.timezone
    return None


def default_source(reader: Reader) -> str:
    """The feed name of records that name none, when ``--source`` is not given: each format is its own feed
    (canonical CSV, JSON Lines and Parquet are one), so dedup keys and partial-record timeouts of different
    switches never mix."""
    if reader.name in ("csv", "jsonl", "parquet"):
        return CANONICAL_SOURCE
    fmap = getattr(reader, "fmap", None)
    return str(getattr(fmap, "name", None) or reader.name)


def expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a directory stands for the files under it (sorted, hidden ones skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        else:
            out.append(p)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "file"


def recover(state: MediationState, settings: Settings) -> list[str]:
    """Undo what a crash left half-done (see ``_state``); returns what was cleaned, for the log."""
    cleaned = []
    for digest, part_name, rejects_file in state.inflight():
        remove_parts(settings.lake_dir, part_name)
        if rejects_file:
            rp = Path(rejects_file)
            rp.unlink(missing_ok=True)
            rp.with_name(f".{rp.name}.tmp").unlink(missing_ok=True)
        for seg in state.keys_dir.glob(f"{part_name}-*.npy"):
            seg.unlink()
        state.unjournal(digest)
        cleaned.append(digest)
    shutil.rmtree(state.root / UNPACKED, ignore_errors=True)  # files decompressed for a read
    registered = set(state.segments())
    for f in state.keys_dir.iterdir():
        if f.name not in registered:
            f.unlink()
    usage = settings.lake_dir / "usage"
    if usage.is_dir():
        for tmp in usage.glob("period=*/.*.tmp"):
            tmp.unlink()
    if settings.rejects_dir.is_dir():  # rejects of a file whose hash was not known yet (never journalled)
        for tmp in settings.rejects_dir.glob(".pending-*.tmp"):
            tmp.unlink()
    return cleaned


_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Runs ``items`` on a thread, ``depth`` ahead of the consumer, so reading (which releases the GIL in
    Arrow) overlaps validation. Errors surface in the consumer; stopping early stops the producer."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for x in items:
                if not put(x):
                    return
        except BaseException as exc:
            put(_Failed(exc))
            return
        put(_DONE)

    t = threading.Thread(target=run, name="fairtel-read", daemon=True)
    t.start()
    try:
        while True:
            x = q.get()
            if x is _DONE:
                return
            if isinstance(x, _Failed):
                raise x.exc
            yield x
    finally:
        stop.set()
        t.join(timeout=30)


def _newest_by_source(clean: pa.Table, into: dict[str, int]) -> None:
    if clean.num_rows == 0:
        return
    one = single_value(clean.column("source").combine_chunks())
    if one is not None:  # one feed in the batch (the usual case): a plain max, no grouping
        newest = pc.max(clean.column("started_at")).cast(pa.int64()).as_py()
        if newest is not None and newest > into.get(one, -(1 << 62)):
            into[one] = newest
        return
    grouped = clean.group_by("source").aggregate([("started_at", "max")])
    for s, ts in zip(grouped.column("source").to_pylist(),
                     grouped.column("started_at_max").cast(pa.int64()).to_pylist(), strict=True):
        if ts is not None and ts > into.get(s, -(1 << 62)):
            into[s] = ts


def _drop_conflicting_parts(conn: sqlite3.Connection, clean: pa.Table,
                            raw_of: Callable[[Sequence[int]], list[bytes]], file: str) -> tuple[pa.Table, list[Reject]]:
    """``clean`` without the parts whose sequence number their session already has (held or emitted) under
    another record id (``_partials.conflicting_parts``), and those parts as rejects with their original bytes."""
    return _drop_parts(clean, conflicting_parts(conn, clean), raw_of, file)


def _drop_parts(clean: pa.Table, clashes: list[Clash], raw_of: Callable[[Sequence[int]], list[bytes]],
                file: str) -> tuple[pa.Table, list[Reject]]:
    if not clashes:
        return clean, []
    rows = [c.row for c in clashes]
    positions = clean.column(POS).take(pa.array(rows)).to_pylist()
    out = [Reject(file, int(pos), c.reason, "seq" if c.reason == Reason.CONFLICTING_PART else "session_id",
                  c.message, raw)
           for c, pos, raw in zip(clashes, positions, raw_of(rows), strict=True)]
    keep = np.ones(clean.num_rows, dtype=bool)
    keep[rows] = False
    return filter_rows(clean, keep), out


def _checked(reader: Reader, path: Path, source: str, batch_size: int, *, data: Path | None = None,
             future_tolerance_s: float = FUTURE_TOLERANCE_S) -> Iterator[tuple[int, Validated]]:
    """Read and validate: a pure function of the file, so it runs ahead on the prefetch thread while the
    consumer dedups and hands the previous batch to the lake writer. ``data``: what is read for ``path`` when it
    is not the file itself (its content decompressed, ``unpacked``); rejects name ``path``.
    ``future_tolerance_s``: how far past the moment of ingest a record may start (``future_timestamp``)."""
    for batch in reader.read(data or path, source=source, batch_size=batch_size):
        if data is not None and data != path:
            batch.rejects = [replace(r, file=str(path)) if r.file == str(data) else r for r in batch.rejects]
        consumed, checked = batch.consumed, validate(batch, file=str(path), source=source,
                                                      future_tolerance_s=future_tolerance_s)
        # the raw batch (and the text block behind it) goes before the next one is read, unless it holds parts of
        # partial records (``checked.raw_of``: a part refused when held keeps its original bytes)
        del batch
        yield consumed, checked


class _Session:
    """One ingest run: the state (locked), the key index, settings and options. ``close`` waits for the key
    merge a commit may have started."""

    def __init__(self, state: MediationState, settings: Settings, *, durable: bool) -> None:
        self.state = state
        self.settings = settings
        self.durable = durable
        self.keys = KeyIndex(state.keys_dir, state.segments(), durable=durable)
        self._merger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fairtel-merge")
        self._merging: tuple[list[str], str, Future[int]] | None = None
        # a watch's session: each file ingested waits for its report in the ledger (``MediationState.unreported``)
        self.unreported = False

    def close(self) -> None:
        try:
            self._settle_merge(wait=True)
        finally:
            self._merger.shutdown(wait=True)

    def ingest(self, path: Path, *, fmt: str | None, source: str | None, progress: Progress) -> FileReport:
        """One file, committed on its own. A failed file is reported (``status`` and ``message``), not noted on
        ``progress``: the caller shows its reports, the reason once, where it shows the file's counts."""
        return self._file(path, fmt=fmt, source=source, progress=progress)

    def _file(self, path: Path, *, fmt: str | None, source: str | None, progress: Progress) -> FileReport:
        rep = FileReport(file=str(path))
        try:
            size = path.stat().st_size
        except OSError as exc:
            rep.status, rep.message = Status.FAILED, f"file_unreadable: {exc.strerror or exc}"
            return rep
        if size == 0:
            rep.status, rep.message = Status.EMPTY, "empty file: no records"
            return rep
        try:
            blank = _only_blank_lines(path)
        except OSError as exc:
            rep.status, rep.message = Status.FAILED, f"file_unreadable: {exc.strerror or exc}"
            return rep
        if blank:  # no format to tell, and no record to read in any of them
            rep.status, rep.message = Status.EMPTY, "empty file: only blank lines, no records"
            return rep
        hasher = _Hasher(path)
        try:
            with ExitStack() as scratch:  # a compressed file's content, decompressed for the read
                return self._ingest(path, hasher, rep, fmt=fmt, source=source, progress=progress, scratch=scratch)
        finally:
            with suppress(Exception):
                hasher.result()  # never leave the hashing thread behind

    def _ingest(self, path: Path, hasher: _Hasher, rep: FileReport, *, fmt: str | None, source: str | None,
                progress: Progress, scratch: ExitStack) -> FileReport:
        data = path
        try:
            data = scratch.enter_context(unpacked(path, self.state.root / UNPACKED))
            reader = resolve_reader(data, fmt, timezone=_SWITCH_CLOCK.get() or self.settings.timezone)
        except FairtelError as exc:
            digest = hasher.result()
            why = f"{exc.code}: {exc}".replace(str(data), str(path))
            if (prev := self.state.done(digest)) is not None:
                return _already(rep, digest, prev, fmt=fmt, source=source, unusable=why)
            rep.content_hash = digest
            rep.status, rep.message = Status.FAILED, why
            return rep
        rep.format = _label(reader)
        rep.source = source or default_source(reader)
        rep.timezone = reader_zone(reader)
        asked = rep.format if fmt else None  # a format detected, not asked for, is no request to tell apart
        try:
            self._run(path, reader, hasher, rep, progress, data=data)
        except _AlreadyIngested as already:
            return _already(FileReport(file=rep.file), already.prev.content_hash, already.prev, fmt=asked,
                            source=source)
        except Exception as exc:
            if isinstance(exc, FairtelError):
                msg = f"{exc.code}: {exc}"
            else:
                msg = f"internal_error: {type(exc).__name__}: {exc}"
            msg = msg.replace(str(data), str(path))
            known = rep.content_hash
            if known is None:  # failed before the hash was known: a file registered before says so instead
                with suppress(OSError):
                    known = hasher.result()
                if known is not None and (prev := self.state.done(known)) is not None:
                    return _already(FileReport(file=rep.file), known, prev, fmt=asked, source=source)
            failed = FileReport(file=rep.file, format=rep.format, status=Status.FAILED, message=msg,
                                source=rep.source, content_hash=known, timezone=rep.timezone)
            return failed
        return rep

    def _run(self, path: Path, reader: Reader, hasher: _Hasher, rep: FileReport, progress: Progress, *,
             data: Path | None = None) -> None:
        """Reads the file while its content hash is computed. Once the hash is known (looked at after each
        batch; waited for before the first partial record is held, and at the end) the file is looked up in
        the registry (already ingested: everything so far is dropped), journalled, and the transaction that
        registers it begins. Until then lake parts and rejects go to temporary files, which ``recover``
        removes whatever their names; they are named after the hash when the file is complete."""
        st, settings = self.state, self.settings
        pending = f"pending-{uuid.uuid4().hex[:16]}"
        writer = PartWriter(settings.lake_dir, pending, settings.timezone, durable=self.durable)
        rejects = RejectsWriter(settings.rejects_dir / f"{pending}.rejects.jsonl", durable=self.durable)

        def segment_prefix() -> str:  # a key segment written before the hash is known waits for it
            d = hasher.result()
            if (prev := st.done(d)) is not None:  # its names may be an earlier ingest's: never write them
                raise _AlreadyIngested(prev)
            return d[:24]

        # about 16 bytes a record in a compressed Parquet file, many more in text: rarely fewer keys than this
        self.keys.begin(segment_prefix, expected_keys=(data or path).stat().st_size // 16 + 1)
        seq = st.next_seq()
        newest: dict[str, int] = {}
        src = rep.source or CANONICAL_SOURCE
        digest: str | None = None
        part_name = ""
        rejects_path = Path()
        unreported = 0  # records read before the file was known to be new: shown once it is
        try:
            with ExitStack() as stack:
                conn: sqlite3.Connection | None = None

                def settle() -> sqlite3.Connection:
                    nonlocal digest, part_name, rejects_path
                    d = hasher.result()
                    prev = st.done(d)
                    if prev is not None:
                        raise _AlreadyIngested(prev)
                    digest, part_name = d, d[:24]
                    rejects_path = settings.rejects_dir / f"{_safe(path.name)}.{d[:12]}.rejects.jsonl"
                    rep.content_hash = d
                    st.journal(d, part_name, str(rejects_path))
                    return stack.enter_context(st.transaction())

                batch_rows = min(self.settings.batch_size, BATCH_ROWS)
                checked = _checked(reader, path, src, batch_rows, data=data,
                                   future_tolerance_s=settings.future_tolerance_days * 86400)
                for consumed, v in prefetch(checked, depth=1):
                    if conn is None and hasher.done():
                        conn = settle()
                    rep.read += consumed
                    clean = v.clean
                    refused = v.rejects
                    clashes: list[Reject] = []
                    if v.raw_of is not None:  # parts of partial records: a sequence number taken twice is refused
                        if conn is None:
                            conn = settle()
                        clean, clashes = _drop_conflicting_parts(conn, clean, v.raw_of, str(path))
                    if clean.num_rows:
                        h1, h2 = key_hashes(clean.column("source"), clean.column("record_id"))
                        dup = self.keys.seen(h1, h2)
                        ndup = int(np.count_nonzero(dup))
                        if ndup:
                            clean = filter_rows(clean, ~dup)
                        rep.duplicate += ndup
                        sessions = clean.column("session_id")
                        if sessions.null_count < len(sessions):
                            partial = np.asarray(pc.is_valid(sessions).to_numpy(zero_copy_only=False), dtype=bool)
                            if conn is None:
                                conn = settle()
                            parts = filter_rows(clean, partial)
                            if v.raw_of is not None:  # a part of a session emitted and forgotten: too late to tell
                                parts, late = _drop_parts(parts, late_parts(
                                    conn, parts, timeout_s=settings.partial_timeout_s), v.raw_of, str(path))
                                clashes += late
                            hold(conn, parts, seq)
                            rep.accepted += parts.num_rows
                            _newest_by_source(parts, newest)
                            clean = filter_rows(clean, ~partial)
                        rep.accepted += clean.num_rows
                        _newest_by_source(clean, newest)
                        writer.write(clean)
                    if clashes:
                        refused = sorted([*refused, *clashes], key=lambda r: r.position)
                    rejects.write(refused)
                    unreported += consumed
                    if conn is not None:
                        progress.step(path.name, advance=unreported)
                        unreported = 0
                if conn is None:
                    conn = settle()
                if unreported:
                    progress.step(path.name, advance=unreported)
                assert digest is not None
                rep.rejected = rejects.count
                rep.reasons = dict(sorted(rejects.reasons.items()))
                st.set_watermarks(newest)
                released, held_refused = release(conn, file_seq=seq, watermarks=st.watermarks(),
                                                 timeout_s=settings.partial_timeout_s)
                writer.write(released)
                writer.drain()  # the last row groups are encoded beside the keys' last segment
                rejects.write(held_refused)
                rep.held_refused = len(held_refused)
                rep.held = held_from(conn, seq)
                rep.emitted = writer.rows
                segs = self.keys.finish()
                parts = writer.close(part_name)
                rpath = rejects.close(rejects_path)
                rep.parts = [str(p) for p in parts]
                rep.rejects_file = str(rpath) if rpath else None
                if rep.read != rep.accepted + rep.rejected + rep.duplicate:  # a reader broke the protocol
                    raise AssertionError(f"accounting: read {rep.read} != accepted {rep.accepted} + rejected "
                                         f"{rep.rejected} + duplicate {rep.duplicate}")
                claim = getattr(reader, "claim", None)
                if claim is not None:  # a TAP batch's number, refused when repeated with other content
                    claim(conn, digest, str(path))
                st.add_segments(segs)
                st.register(FileRecord(digest, str(path), rep.format, rep.source, rep.read, rep.accepted,
                                       rep.rejected, rep.duplicate, rep.held, rep.emitted, rep.rejects_file,
                                       rep.parts, datetime.now(UTC).isoformat(timespec="microseconds")), seq)
                if self.unreported:
                    st.mark_unreported(digest)
                st.unjournal(digest)
        except BaseException:
            writer.abort()
            rejects.abort()
            self.keys.abort()
            remove_parts(settings.lake_dir, pending)
            if digest is not None:
                remove_parts(settings.lake_dir, part_name)
                rejects_path.unlink(missing_ok=True)
                st.unjournal(digest)
            raise
        self.keys.adopt()
        self._compact()

    def flush(self, progress: Progress) -> FileReport | None:
        """Emits every held partial session now (end of a feed), flagged incomplete."""
        st, settings = self.state, self.settings
        ids = held_ids(st.conn)
        if not ids:
            return None
        digest = hashlib.sha256("\n".join(f"{s}\x1f{r}" for s, r in ids).encode()).hexdigest()
        name = f"flush-{digest[:18]}"
        rejects_path = settings.rejects_dir / f"{name}.rejects.jsonl"
        st.journal(name, name, str(rejects_path))
        writer = PartWriter(settings.lake_dir, name, settings.timezone, durable=self.durable)
        rejects = RejectsWriter(rejects_path, durable=self.durable)
        rep = FileReport(file="(held partial records)", format="partials", status=Status.INGESTED, content_hash=name)
        try:
            with st.transaction() as conn:
                released, held_refused = release(conn, file_seq=None, watermarks={},
                                                 timeout_s=settings.partial_timeout_s, flush=True)
                writer.write(released)
                rejects.write(held_refused)
                rep.emitted = writer.rows
                rep.held_refused = len(held_refused)
                rep.parts = [str(p) for p in writer.close()]
                rpath = rejects.close()
                rep.rejects_file = str(rpath) if rpath else None
                st.record_parts(rep.parts, None)
                st.unjournal(name)
        except BaseException:
            writer.abort()
            rejects.abort()
            remove_parts(settings.lake_dir, name)
            rejects_path.unlink(missing_ok=True)
            st.unjournal(name)
            raise
        rep.message = f"emitted {rep.emitted} held session(s) as incomplete records"
        progress.note(rep.message)
        return rep

    def _compact(self) -> None:
        """After a commit: a finished merge becomes part of the index, and the next merge the binary counter
        asks for starts on a thread, beside the next file's reading and checking. Until it is applied, lookups
        use its inputs, which stay in place; a merge left unapplied by a crash is an unregistered file, which
        ``recover`` removes."""
        self._settle_merge(wait=False)
        if self._merging is not None:
            return
        names = self.keys.plan_merge()
        if not names:
            return
        out = f"m-{hashlib.sha256(' '.join(names).encode()).hexdigest()[:20]}.npy"
        self._merging = (names, out, self._merger.submit(self.keys.merge, names, out))

    def _settle_merge(self, *, wait: bool) -> None:
        """Applies the merge in flight once it is done (``wait``: waits for it): registered in the state in
        place of its inputs, swapped into the index, the inputs removed."""
        if self._merging is None:
            return
        names, out, done = self._merging
        if not wait and not done.done():
            return
        self._merging = None
        n = done.result()
        self.state.replace_segments(names, (out, n))
        self.keys.replace(names, out)
        for old in names:
            (self.state.keys_dir / old).unlink(missing_ok=True)


def ingest_files(
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    fmt: str | None = None,
    source: str | None = None,
    report: Progress | None = None,
    flush_partials: bool = False,
    durable: bool = True,
    timezone: str | None = None,
) -> list[FileReport]:
    """Ingests files one after another (a directory stands for its files). Each file is committed on its own,
    so an interruption loses at most the file in progress, which a rerun redoes identically. With
    ``flush_partials`` every partial session still held afterwards is emitted (flagged incomplete).
    ``timezone``: the zone of the switch's clock for Asterisk and FreeSWITCH CSV (default: the operator's,
    ``settings.timezone``)."""
    progress = report or _Quiet()
    files = expand(paths)
    out: list[FileReport] = []
    with ExitStack() as inboxes:
        inboxes.enter_context(switch_clock(timezone))
        # a file in a watched inbox is the watch's to take: its lock held meanwhile (a watch running, of this
        # home or another sharing the database, refuses the ingest naming it; one starting waits its turn)
        for inbox in sorted({p.parent for p in files}):
            inboxes.enter_context(inbox_lock(inbox, home=settings.home, holder="fairtel ingest", keeps=False,
                                             only_if_watched=True))
        _ingest_all(files, out, settings=settings, fmt=fmt, source=source, progress=progress,
                    flush_partials=flush_partials, durable=durable)
    return out


def _ingest_all(files: Sequence[Path], out: list[FileReport], *, settings: Settings, fmt: str | None,
                source: str | None, progress: Progress, flush_partials: bool, durable: bool) -> None:
    with ingest_session(settings, report=progress, durable=durable) as session:
        for path in files:
            out.append(session.ingest(path, fmt=fmt, source=source, progress=progress))
        if flush_partials:
            flushed = session.flush(progress)
            if flushed is not None:
                out.append(flushed)


@contextmanager
def ingest_session(settings: Settings, *, report: Progress | None = None, durable: bool = True) -> Iterator[_Session]:
    """The home's mediation state, locked and recovered, with its key index open: ingest files one after another
    with ``session.ingest(path, fmt=..., source=..., progress=...)``, each committed on its own. ``watch`` keeps one
    open for a pass over its inbox instead of opening the state, recovering and mapping every key segment again
    for each file."""
    progress = report or _Quiet()
    settings.home.mkdir(parents=True, exist_ok=True)
    with MediationState.open(settings.home) as state, bulk_default_pool():
        cleaned = recover(state, settings)
        if cleaned:
            progress.note(f"recovered {len(cleaned)} interrupted ingest(s); their files are read again")
        # usage parts the ledger lists and the lake lacks (a lake lost or not mounted): its files would be called
        # already ingested while their records are gone, and new parts written where the volume is not
        check_lake_complete(settings.lake_dir)
        session = _Session(state, settings, durable=durable)
        try:
            yield session
        finally:
            session.close()


def mediation_stats(settings: Settings) -> dict[str, Any]:
    with MediationState.open(settings.home) as state:
        return state.stats()
