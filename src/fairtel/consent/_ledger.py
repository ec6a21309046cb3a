"""The consent ledger: JSON Lines events parsed and validated at the boundary, appended, never edited.

Parsing is vectorised (one Polars JSON decode per file); a file with malformed JSON falls back to a line
by line parse so that every bad line is reported with its file, line and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from fairtel.core.contracts import CONSENT_FIELDS, ConsentChannel, ConsentEventKind
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.privacy._numbers import MAX_DIGITS, MIN_DIGITS, msisdn_problem

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event": pl.String(),
    "subscription_id": pl.String(),
    "msisdn": pl.String(),
    "offer_id": pl.String(),
    "at": pl.Datetime("us", "UTC"),
    "channel": pl.String(),
    "evidence": pl.String(),
}
_RAW = pl.Struct({f: pl.String() for f in CONSENT_FIELDS})
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_EVENTS = [e.value for e in ConsentEventKind]
# A number as the subscriber register keeps one (``msisdn_problem``, which says why one is not): ASCII digits only
# (a regex ``\d`` also takes full-width and other scripts' digits), the first not 0.
_E164 = rf"^[1-9][0-9]{{{MIN_DIGITS - 1},{MAX_DIGITS - 1}}}$"
_MSISDN_WHY = "msisdn_problem"  # the check's message is msisdn_problem's for the value
_EARLY, _LATE = "event_time_early", "event_time_late"  # the check's message is event_time_problem's
_CHANNELS = [c.value for c in ConsentChannel]
# An event is dated when it happened, so never after it was read: a clock or zone set wrong, or a feed dating
# events ahead, would otherwise put into the append-only ledger a confirmation that covers charges for years to
# come (or an order that sorts after every real event). A few minutes allow for clocks that disagree a little.
EVENT_FUTURE_TOLERANCE = timedelta(minutes=5)
# Nothing in this ledger predates value-added services as the operator sells them: an event before this is a
# clock reset (1970) or a typo, and would sort before the subscription's real history.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)


def event_time_problem(at: datetime, *, now: datetime, tolerance: timedelta = EVENT_FUTURE_TOLERANCE) -> str | None:
    """Why an event's ``at`` cannot be taken into the ledger read at ``now`` (None: it can): before
    ``EARLIEST_EVENT``, or more than ``tolerance`` after ``now``. The message names the bound."""
    if at < EARLIEST_EVENT:
        return f"before {EARLIEST_EVENT:%Y-%m-%d} (a clock reset or a typo?)"
    if at > now + tolerance:
        return (f"later than the moment of import ({now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}) plus "
                f"{_span(tolerance)}: an event is recorded after it happens (a clock or time zone set wrong?)")
    return None


def _span(tolerance: timedelta) -> str:
    seconds = int(tolerance.total_seconds())
    if seconds and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{tolerance.total_seconds():g} s"


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_SCHEMA)


def as_events(events: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """Events from any frame or Arrow table with the contract's columns (e.g. the store's ledger, which
    may leave out ``evidence``): optional columns are added as nulls, extra ones dropped, types fixed."""
    frame = events if isinstance(events, pl.DataFrame) else pl.from_arrow(events)
    assert isinstance(frame, pl.DataFrame)
    missing = [c for c in ("event", "subscription_id", "msisdn", "offer_id", "at") if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem("events", None, c, "column missing") for c in missing], what="consent events")
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in ("channel", "evidence") if c not in frame.columns)
    if frame.schema["at"] != EVENT_SCHEMA["at"]:
        frame = frame.with_columns(pl.col("at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    return frame.select(list(EVENT_SCHEMA)).cast(EVENT_SCHEMA)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events read from one or more files: the valid ones, every problem, and how many lines were read."""

    events: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)
    read: int = 0


@dataclass(frozen=True, slots=True)
class AppendResult:
    added: int
    duplicates: int
    rejected: list[Problem]


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _decode_slow(lines: Sequence[str], file: str) -> tuple[pl.DataFrame, list[Problem]]:
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(file, i, None, f"not valid JSON: {exc.msg} at column {exc.colno}", "json_invalid"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(file, i, None, "a consent event is a JSON object", "json_invalid"))
            continue
        rows.append({"line": i, **{f: _scalar(obj.get(f)) for f in CONSENT_FIELDS}})
    schema = {"line": pl.Int64(), **{f: pl.String() for f in CONSENT_FIELDS}}
    return pl.DataFrame(rows, schema=schema), problems


def _decode(lines: Sequence[str], file: str) -> tuple[pl.DataFrame, list[Problem]]:
    raw = pl.DataFrame({"text": pl.Series(lines, dtype=pl.String)}).with_row_index("line", offset=1)
    raw = raw.with_columns(pl.col("line").cast(pl.Int64)).filter(pl.col("text").str.strip_chars() != "")
    try:
        decoded = raw.with_columns(pl.col("text").str.json_decode(_RAW).alias("obj"))
    except Exception:  # polars refuses the whole column on any malformed line; find each one
        return _decode_slow(lines, file)
    problems = [
        Problem(file, int(n), None, "a consent event is a JSON object", "json_invalid")
        for n in decoded.filter(pl.col("obj").is_null())["line"]
    ]
    frame = decoded.filter(pl.col("obj").is_not_null()).select("line", pl.col("obj").struct.unnest())
    return frame, problems


def _validate(frame: pl.DataFrame, file: str, *, now: datetime, tolerance: timedelta) -> tuple[pl.DataFrame, list[Problem]]:
    """Check every field of every row at once; rows with any problem are left out. ``now`` is the moment of
    import, which no event may follow by more than ``tolerance``."""
    latest = now.astimezone(UTC) + tolerance
    f = frame.with_columns(
        pl.col(c).str.strip_chars() for c in ("event", "subscription_id", "msisdn", "offer_id", "channel")
    ).with_columns(
        # RFC 3339 allows a lower-case "t" or "z" and a space between date and time (as the store's parser
        # does); the pattern accepts them, so the parse must too.
        pl.col("at")
        .str.strip_chars()
        .str.replace(r"[Zz]$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[t ]", "${1}T")
        .alias("_at_text"),
    ).with_columns(
        pl.when(pl.col("_at_text").str.contains(_RFC3339))
        .then(pl.col("_at_text").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_zone="UTC"))
        .alias("_at")
    )
    checks: list[tuple[str, pl.Expr, str]] = [
        ("event", pl.col("event").is_null(), "missing"),
        ("event", pl.col("event").is_not_null() & ~pl.col("event").is_in(_EVENTS), f"must be one of {', '.join(_EVENTS)}"),
        ("subscription_id", pl.col("subscription_id").fill_null("") == "", "missing"),
        ("msisdn", pl.col("msisdn").is_null(), "missing"),
        ("msisdn", pl.col("msisdn").is_not_null() & ~pl.col("msisdn").str.contains(_E164), _MSISDN_WHY),
        ("offer_id", pl.col("offer_id").fill_null("") == "", "missing"),
        ("at", pl.col("at").is_null(), "missing"),
        ("at", pl.col("at").is_not_null() & pl.col("_at").is_null(), "must be an RFC 3339 timestamp with an offset"),
        ("at", pl.col("_at") < pl.lit(EARLIEST_EVENT).dt.cast_time_unit("us"), _EARLY),
        ("at", pl.col("_at") > pl.lit(latest).dt.cast_time_unit("us"), _LATE),
        ("channel", pl.col("channel").is_not_null() & ~pl.col("channel").is_in(_CHANNELS), f"must be one of {', '.join(_CHANNELS)}"),
        ("channel", (pl.col("event") == "confirmed") & pl.col("channel").is_null(), "a confirmation names the operator channel it came through"),
        # only fairtel's own order and confirmation write it (the one-time code sent by SMS and given back): a feed
        # claiming it would pass a provider's machine-speed confirmations as a person's
        ("evidence", pl.col("evidence").str.json_path_match("$.second_step").is_not_null(),
         "second_step is written by fairtel's own second confirmation, never imported"),
    ]
    flagged = f.with_columns(
        pl.struct(
            [(cond).fill_null(False).alias(f"c{i}") for i, (_, cond, _) in enumerate(checks)]
        ).alias("_bad")
    )
    bad_any = pl.any_horizontal([pl.col("_bad").struct.field(f"c{i}") for i in range(len(checks))])
    bad = flagged.filter(bad_any)
    problems: list[Problem] = []
    if bad.height:
        for row in bad.select("line", "_bad", "_at", *[c for c in ("event", "msisdn", "at", "channel")]).iter_rows(named=True):
            for i, (fld, _, msg) in enumerate(checks):
                if row["_bad"][f"c{i}"]:
                    value = row.get(fld)
                    if msg == _MSISDN_WHY:  # says why and quotes the value
                        text = msisdn_problem(value or "") or f"not an E.164 number: {value!r}"
                    elif msg in (_EARLY, _LATE):
                        text = (event_time_problem(row["_at"], now=now, tolerance=tolerance) or msg) + f" (got {value!r})"
                    else:
                        text = msg + (f" (got {value!r})" if value not in (None, "") and msg != "missing" else "")
                    problems.append(Problem(file, int(row["line"]), fld, text, "consent_event_invalid"))
    good = flagged.filter(~bad_any).select(
        "line",
        "event",
        "subscription_id",
        "msisdn",
        "offer_id",
        pl.col("_at").alias("at"),
        "channel",
        pl.col("evidence"),
    )
    return good, problems


def jsonl_lines(data: bytes, file: str) -> tuple[list[str], list[Problem]]:
    """The lines of a JSON Lines file's bytes, each decoded as UTF-8, line ``i`` (from 1) at index ``i - 1``.

    Lines end at ``\\n`` only (a ``\\r`` before it is dropped): a JSON string may hold U+2028, U+0085 or a form
    feed as they are, which ``str.splitlines`` would take for line ends. A UTF-8 byte order mark at the start
    (as editors on Windows write it) is dropped. A line that is not UTF-8 is left blank in the list and is a
    problem (``undecodable``) naming its line and the byte offset of its first bad byte in the file."""
    lines: list[str] = []
    problems: list[Problem] = []
    offset = 0
    if data.startswith(b"\xef\xbb\xbf"):
        data, offset = data[3:], 3
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # the newline that ends the last line
    for n, raw in enumerate(pieces, start=1):
        try:
            lines.append(raw.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            lines.append("")
            bad = raw[exc.start:exc.start + 1].hex()
            problems.append(Problem(file, n, None, f"not valid UTF-8: byte 0x{bad} at byte offset {offset + exc.start} of the "
                                    f"file (byte {exc.start + 1} of the line); save the file as UTF-8",
                                    "undecodable"))
        offset += len(raw) + 1
    return lines, problems


def parse_consent_lines(lines: Sequence[str], *, file: str = "<events>", now: datetime | None = None,
                        future_tolerance: timedelta = EVENT_FUTURE_TOLERANCE) -> EventBatch:
    """Parse JSON Lines text already split into lines; line numbers count from 1, blank lines included. An event
    dated before 2000 or more than ``future_tolerance`` after ``now`` (the moment of import; the clock when not
    given) is a bad line, named by file, line and field ``at``."""
    frame, problems = _decode(lines, file)
    read = frame.height + len(problems)
    good, more = _validate(frame, file, now=_moment(now), tolerance=future_tolerance)
    problems = sorted([*problems, *more], key=lambda p: (p.line or 0, p.field or ""))
    return EventBatch(events=good.drop("line").cast(EVENT_SCHEMA), problems=problems, read=read)  # type: ignore[arg-type]


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("the moment of import must be an aware datetime")
    return now


def read_consent_events(paths: Iterable[Path | str], *, now: datetime | None = None,
                        future_tolerance: timedelta = EVENT_FUTURE_TOLERANCE) -> EventBatch:
    """Read and validate consent event files (JSON Lines). Bad lines are reported, good ones kept; ``now`` and
    ``future_tolerance`` as for ``parse_consent_lines`` (one moment for every file of the call)."""
    now = _moment(now)
    frames: list[pl.DataFrame] = []
    problems: list[Problem] = []
    read = 0
    for path in paths:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            problems.append(Problem(str(p), None, None, f"cannot read: {exc}", "file_unreadable"))
            continue
        lines, undecodable = jsonl_lines(data, str(p))
        batch = parse_consent_lines(lines, file=str(p), now=now, future_tolerance=future_tolerance)
        frames.append(batch.events)
        problems.extend(sorted([*undecodable, *batch.problems], key=lambda q: (q.line or 0, q.field or "")))
        read += batch.read + len(undecodable)
    events = pl.concat(frames) if frames else empty_events()
    return EventBatch(events=events, problems=problems, read=read)


class ConsentLedger:
    """Append-only consent events. Identical events are recognised and not added twice; an event that
    contradicts what the ledger knows of its subscription (another msisdn or offer) is refused.
    State is never stored: it is a projection (``fairtel.consent.project_subscriptions``)."""

    def __init__(self, events: pl.DataFrame | None = None) -> None:
        self._events = empty_events()
        if events is not None:
            result = self.append(events)
            if result.rejected:
                raise InvalidInputError(result.rejected, what="consent ledger")

    @property
    def events(self) -> pl.DataFrame:
        return self._events

    def __len__(self) -> int:
        return self._events.height

    def append(self, events: pl.DataFrame | EventBatch, *, source: str = "<append>") -> AppendResult:
        new = as_events(events.events if isinstance(events, EventBatch) else events)
        known = self._events.height
        unique_new = new.unique(maintain_order=True)
        # Identical to an event already in the ledger: recognised, not re-added.
        fresh = unique_new.join(self._events, on=list(EVENT_SCHEMA), how="anti", nulls_equal=True)
        duplicates = new.height - fresh.height
        # Each subscription belongs to one msisdn and one offer, fixed by its earliest recorded event.
        combined = pl.concat([self._events.with_columns(pl.lit(True).alias("_old")), fresh.with_columns(pl.lit(False).alias("_old"))])
        combined = combined.with_row_index("_pos")
        owner = combined.sort("_old", "at", "_pos", descending=[True, False, False]).group_by("subscription_id", maintain_order=True).agg(
            pl.col("msisdn").first().alias("_m"), pl.col("offer_id").first().alias("_o")
        )
        checked = combined.join(owner, on="subscription_id", how="left", maintain_order="left")
        bad = checked.filter(~pl.col("_old") & ((pl.col("msisdn") != pl.col("_m")) | (pl.col("offer_id") != pl.col("_o"))))
        rejected = [
            Problem(
                source,
                None,
                "msisdn" if r["msisdn"] != r["_m"] else "offer_id",
                f"{r['event']} event of {r['subscription_id']} names {r['msisdn']}/{r['offer_id']} but the subscription is {r['_m']}/{r['_o']}",
                "consent_event_conflict",
            )
            for r in bad.iter_rows(named=True)
        ]
        accepted = checked.filter(~pl.col("_old")).join(bad.select("_pos"), on="_pos", how="anti").select(list(EVENT_SCHEMA))
        self._events = pl.concat([self._events, accepted]) if known else accepted
        return AppendResult(added=accepted.height, duplicates=duplicates, rejected=rejected)
