"""Partial records: parts of one long session (session_id, seq, final) held durably until the session is
complete or times out, then stitched into one clean record. Never dropped.

A session is complete when a final part has arrived and, when the parts carry ``seq``, the sequence numbers
run without a gap from 0 or 1 up to the final part's. It times out when the newest record time seen from its
source is more than ``partial_timeout_s`` past its latest part (record time, not wall-clock time, so a rerun
makes the same decisions); it is then emitted flagged ``incomplete``, as is a part that arrives after its
session was already emitted (it becomes a session fragment of its own), unless it repeats one of them (below).

Stitching: the first part (by seq, then start, then arrival) gives the record_id and the descriptive fields;
``started_at`` is the earliest start; duration, volumes and amounts are summed; ``parts`` counts them. The
wholesale charge is summed too, when every part has one, in one currency (``_wholesale``).

A session has one part per sequence number. A part numbered like one its session already holds, under another
record id, is refused (``conflicting_part``, with its original bytes), the part that came first being kept:
holding both would leave the sequence with a repeat it can never complete, and either one alone may be the
right one, so the later one goes where a person can see it rather than being summed or silently dropped.
(The same record id again is a duplicate, as anywhere.) Parts with a repeated number held before they were
refused on arrival (a state database from an earlier version) do not hold their session back: the first to
arrive counts, and the others are refused (``conflicting_part``) when the session is released.

An emitted session's parts (the number and record id of each, its latest part's time) are remembered until its
source's newest record time is two timeouts past its latest part: one timeout more than a held session waits.
Until then a late part numbered like one already emitted, under another record id, is refused
(``conflicting_part``) rather than charged a second time as a fragment. Past it, nothing tells such a part from
a repeat, so a part of an emitted session is refused as ``late_part`` when it is itself that old (a resend
carries the time of the part it repeats); a part of it that is more recent is read as any other.

That the session was emitted at all is remembered longer, four timeouts past its latest part, then forgotten
too, so that neither memory grows without bound. A part older than that (four timeouts before its source's
newest record), of a session whose parts are not remembered, is refused as ``late_part`` whatever became of
its session: it may have been emitted and forgotten, and nothing tells the part from a repeat. A part between
two and four timeouts old of a session never emitted is held like any other (and emitted at once, timed out):
a file delivered up to that late is still charged. A resend of an emitted part is never charged again: it
carries a time no later than its session's latest part, so while it is younger than four timeouts its session
is still remembered, and older it is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.mediation._validate import FINAL, SEQ, Reason
from fairtel.mediation.readers import POS, Reject

# (column in the partials table, column of the clean batch it comes from)
_STORED = (
    ("source", "source"), ("record_id", "record_id"), ("session_id", "session_id"), ("seq", SEQ),
    ("final", FINAL), ("arrival", None), ("started_us", "started_at"), ("msisdn", "msisdn"), ("kind", "kind"),
    ("direction", "direction"), ("duration_s", "duration_s"), ("bytes_up", "bytes_up"),
    ("bytes_down", "bytes_down"), ("peer", "peer"), ("offer_id", "offer_id"), ("amount_minor", "amount_minor"),
    ("currency", "currency"), ("roaming_country", "roaming_country"), ("cell_id", "cell_id"), ("imei", "imei"),
    ("imsi", "imsi"), ("vpmn", "vpmn"), ("apn", "apn"), ("wholesale_charge_units", "wholesale_charge_units"),
    ("wholesale_charge_decimals", "wholesale_charge_decimals"),
    ("wholesale_charge_currency", "wholesale_charge_currency"),
)
_COLS = [c for c, _ in _STORED]
_IDX = {c: i for i, c in enumerate(_COLS)}
_SUMMED = ("duration_s", "bytes_up", "bytes_down", "amount_minor")
_FIRST = ("msisdn", "kind", "direction", "peer", "offer_id", "currency", "roaming_country", "cell_id", "imei", "imsi",
          "vpmn", "apn")


# Timeouts past an emitted session's latest part that its parts (``partials_emitted``), and that it was emitted
# at all (``sessions_done``), are remembered; the tables are in ``_state.SCHEMA``.
_REMEMBERED = 2
_DONE_REMEMBERED = 4


def arrival_range(file_seq: int) -> tuple[int, int]:
    return file_seq << 32, (file_seq + 1) << 32


def hold(conn: sqlite3.Connection, parts: pa.Table, file_seq: int) -> None:
    """Stores the accepted parts of one batch (inside the file's transaction)."""
    base = file_seq << 32
    columns: list[list[Any]] = []
    for _col, src in _STORED:
        if src is None:
            columns.append([base + int(p) for p in parts.column(POS).to_pylist()])
        elif src == "started_at":
            columns.append(parts.column(src).cast(pa.int64()).to_pylist())
        elif src == FINAL:
            columns.append([None if v is None else int(v) for v in parts.column(src).to_pylist()])
        else:
            columns.append(parts.column(src).to_pylist())
    conn.executemany(f"INSERT INTO partials ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                     zip(*columns, strict=True))


@dataclass(frozen=True, slots=True)
class Clash:
    """A part refused before it is held: its row in the batch, the reason code and what to tell a person."""

    row: int
    reason: str
    message: str


def conflicting_parts(conn: sqlite3.Connection, clean: pa.Table) -> list[Clash]:
    """Rows of ``clean`` (the accepted records of one batch, in file order) that are parts numbered like a part
    held for their session, like an earlier row of the batch, or like a part of their session already emitted,
    under another record id (``conflicting_part``). Checked before dedup, so a refused part claims no key and a
    corrected resend of it is read again."""
    seqs = clean.column(SEQ)
    sessions = clean.column("session_id")
    numbered = pc.and_(pc.is_valid(sessions), pc.is_valid(seqs))
    rows = np.flatnonzero(np.asarray(numbered.to_numpy(zero_copy_only=False), dtype=bool))
    if not len(rows):
        return []
    sel = pa.array(rows)
    columns = [clean.column(c).take(sel).to_pylist() for c in ("source", "session_id", SEQ, "record_id")]
    taken: dict[tuple[str, str, int], tuple[str, bool]] = {}  # -> (record id that has the number, emitted)
    out: list[Clash] = []
    for row, source, session_id, seq, record_id in zip(rows.tolist(), *columns, strict=True):
        key = (source, session_id, seq)
        owner = taken.get(key)
        if owner is None:
            held = [r for r, in conn.execute(
                "SELECT record_id FROM partials WHERE source = ? AND session_id = ? AND seq = ? ORDER BY arrival", key)]
            emitted = [r for r, in conn.execute(
                "SELECT record_id FROM partials_emitted WHERE source = ? AND session_id = ? AND seq = ?", key)]
            if record_id in held or record_id in emitted or not (held or emitted):
                owner = taken[key] = (record_id, False)  # its own number (a duplicate at most), or the first
            else:
                owner = taken[key] = (emitted[0], True) if emitted else (held[0], False)
        if owner[0] != record_id:
            if owner[1]:
                why = (f"seq: session {session_id} was already emitted with part {seq} as record {owner[0]} (this "
                       f"is record {record_id}, a late repeat); it is not charged again")
            else:
                why = (f"seq: session {session_id} already has part {seq} as record {owner[0]} (this is record "
                       f"{record_id}); the first one is kept")
            out.append(Clash(row, Reason.CONFLICTING_PART.value, why))
    return out


def late_parts(conn: sqlite3.Connection, parts: pa.Table, *, timeout_s: int) -> list[Clash]:
    """Rows of ``parts`` (accepted, not duplicate) that cannot be told from a repeat of a part already charged
    (``late_part``): older than the memory of emitted parts (``_REMEMBERED`` timeouts before their source's newest
    record), of a session whose parts are not remembered, and either emitted (``sessions_done``) or older than the
    memory of emitted sessions too (``_DONE_REMEMBERED`` timeouts; held or not, since what is held may be a fragment
    of a session emitted and forgotten)."""
    if not parts.num_rows:
        return []
    timeout_us = timeout_s * 1_000_000
    horizon, done_horizon = _REMEMBERED * timeout_us, _DONE_REMEMBERED * timeout_us
    newest = dict(conn.execute("SELECT source, newest_us FROM watermarks").fetchall())
    columns = [parts.column(c).to_pylist() for c in ("source", "session_id", "record_id")]
    started = parts.column("started_at").cast(pa.int64()).to_pylist()
    out: list[Clash] = []
    for row, (source, session_id, record_id, at) in enumerate(zip(*columns, started, strict=True)):
        mark = newest.get(source)
        if mark is None or at is None or at >= mark - horizon:
            continue
        key = (source, session_id)
        if conn.execute("SELECT 1 FROM partials_emitted WHERE source = ? AND session_id = ? LIMIT 1",
                        key).fetchone() is not None:
            continue  # remembered: checked by number (conflicting_parts)
        if conn.execute("SELECT 1 FROM sessions_done WHERE source = ? AND session_id = ?", key).fetchone():
            why = (f"session {session_id} was emitted and is no longer remembered (its parts are kept "
                   f"{_REMEMBERED} timeouts of {timeout_s} s); record {record_id} is older than that")
        elif at < mark - done_horizon:
            why = (f"record {record_id} is more than {_DONE_REMEMBERED} timeouts of {timeout_s} s older than its "
                   f"source's newest record, past what is remembered of emitted sessions: session {session_id} "
                   "may have been emitted and forgotten")
        else:
            continue  # never emitted: held like any part (and timed out at once)
        out.append(Clash(row, Reason.LATE_PART.value,
                         f"session_id: {why}, and it cannot be told from a repeat of a part already charged"))
    return out


@dataclass(frozen=True, slots=True)
class Session:
    source: str
    session_id: str
    parts: list[tuple[Any, ...]]  # rows in the order of _COLS


def is_complete(parts: Sequence[tuple[Any, ...]]) -> bool:
    """A final part has arrived and the sequence numbers run without a gap from 0 or 1 up to the final part's.
    A number held twice (parts held before repeats were refused on arrival) counts once: the repeat is refused
    when the session is released, it does not hold the session back."""
    finals = [p for p in parts if p[_IDX["final"]]]
    if not finals:
        return False
    seqs = [p[_IDX["seq"]] for p in parts]
    if any(s is None for s in seqs):
        return True  # no sequence numbers to check gaps with: the final part closes the session
    s = sorted(set(seqs))
    final_seq = max(p[_IDX["seq"]] for p in finals)
    return s[0] in (0, 1) and s == list(range(s[0], s[0] + len(s))) and final_seq == s[-1]


def _first_of_each_seq(parts: Sequence[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(the parts that count, the repeats): of parts sharing a sequence number, the first to arrive counts."""
    kept: list[tuple[Any, ...]] = []
    repeats: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    for p in sorted(parts, key=lambda p: p[_IDX["arrival"]]):
        seq = p[_IDX["seq"]]
        if seq is not None and seq in seen:
            repeats.append(p)
            continue
        if seq is not None:
            seen.add(seq)
        kept.append(p)
    return kept, repeats


def stitch(session: Session, *, incomplete: bool) -> dict[str, Any]:
    """One clean usage record (CLEAN_USAGE_SCHEMA fields) from the parts of one session."""
    parts = sorted(session.parts, key=lambda p: (p[_IDX["seq"]] is None, p[_IDX["seq"]] or 0,
                                                 p[_IDX["started_us"]], p[_IDX["arrival"]]))
    first = parts[0]
    rec: dict[str, Any] = {
        "record_id": first[_IDX["record_id"]],
        "source": session.source,
        "started_at": min(p[_IDX["started_us"]] for p in parts),
        "session_id": session.session_id,
        "parts": len(parts),
        "incomplete": incomplete,
    }
    for f in _FIRST:
        rec[f] = next((p[_IDX[f]] for p in parts if p[_IDX[f]] is not None), None)
    for f in _SUMMED:
        values = [p[_IDX[f]] for p in parts if p[_IDX[f]] is not None]
        rec[f] = sum(values) if values else None
    rec.update(_wholesale(parts))
    return rec


_WHOLESALE = ("wholesale_charge_units", "wholesale_charge_decimals", "wholesale_charge_currency")


def _wholesale(parts: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """The session's wholesale charge: its parts' charges summed (each part of a TAP GPRS call carries the charge of
    its own stretch of the session), at the most decimals any of them was written with, so nothing is rounded.
    Empty (all three) unless every part has one and all are in one currency: a sum missing some part's charge, or
    adding two currencies, would be a wrong figure, and the TAP files the parts came from still hold each one."""
    charges = [(p[_IDX["wholesale_charge_units"]], p[_IDX["wholesale_charge_decimals"]],
                p[_IDX["wholesale_charge_currency"]]) for p in parts]
    if any(None in c for c in charges) or len({c[2] for c in charges}) != 1:
        return dict.fromkeys(_WHOLESALE)
    places = max(c[1] for c in charges)
    units = sum(c[0] * 10 ** (places - c[1]) for c in charges)
    return dict(zip(_WHOLESALE, (units, places, charges[0][2]), strict=True))


def to_table(records: Iterable[dict[str, Any]]) -> pa.Table:
    rows = list(records)
    arrays = []
    for f in CLEAN_USAGE_SCHEMA:
        values = [r.get(f.name) for r in rows]
        if f.name == "started_at":
            arrays.append(pa.array(values, type=pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=CLEAN_USAGE_SCHEMA)


def _load(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> list[Session]:
    out = []
    q = f"SELECT {', '.join(_COLS)} FROM partials WHERE source = ? AND session_id = ?"
    for source, sid in keys:
        out.append(Session(source, sid, [tuple(r) for r in conn.execute(q, (source, sid))]))
    return out


def release(conn: sqlite3.Connection, *, file_seq: int | None, watermarks: dict[str, int], timeout_s: int,
            flush: bool = False) -> tuple[pa.Table, list[Reject]]:
    """Stitches and removes the sessions due now: those this file completed, those past the timeout, and with
    ``flush`` every one still held. Returns their records, in a deterministic order, and the repeated parts
    held before repeats were refused on arrival (``conflicting_part``, each naming the file it came from). The
    parts of the sessions emitted are remembered (``partials_emitted``), and the sessions (``sessions_done``);
    what is past either memory is forgotten, inside the same transaction."""
    due: dict[tuple[str, str], bool] = {}  # session -> complete
    if file_seq is not None:
        lo, hi = arrival_range(file_seq)
        touched = [tuple(r) for r in conn.execute(
            "SELECT DISTINCT source, session_id FROM partials WHERE arrival >= ? AND arrival < ?", (lo, hi))]
        for s in _load(conn, touched):
            if is_complete(s.parts):
                due[(s.source, s.session_id)] = True
    timeout_us = timeout_s * 1_000_000
    for source, newest in watermarks.items():
        for sid, in conn.execute(
            "SELECT session_id FROM partials WHERE source = ? GROUP BY session_id HAVING MAX(started_us) < ?",
            (source, newest - timeout_us),
        ):
            due.setdefault((source, sid), False)
    if flush:
        for source, sid in conn.execute("SELECT DISTINCT source, session_id FROM partials"):
            due.setdefault((source, sid), False)
    records = []
    refused: list[Reject] = []
    for s in _load(conn, sorted(due)):
        if not s.parts:
            continue
        late = conn.execute("SELECT 1 FROM sessions_done WHERE source = ? AND session_id = ?",
                            (s.source, s.session_id)).fetchone() is not None
        complete = due[(s.source, s.session_id)] and not late
        kept, repeats = _first_of_each_seq(s.parts)
        records.append(stitch(Session(s.source, s.session_id, kept), incomplete=not complete))
        refused.extend(_repeat_reject(conn, s, p, kept) for p in repeats)
        last = _remember(conn, s.source, s.session_id, kept)
        conn.execute("DELETE FROM partials WHERE source = ? AND session_id = ?", (s.source, s.session_id))
        conn.execute("INSERT INTO sessions_done (source, session_id, last_us) VALUES (?, ?, ?)"
                     " ON CONFLICT (source, session_id) DO UPDATE SET last_us = MAX(COALESCE(last_us, excluded.last_us),"
                     " excluded.last_us)", (s.source, s.session_id, last))
    for source, newest in watermarks.items():  # forget what is past the memory
        conn.execute("DELETE FROM partials_emitted WHERE source = ? AND last_us < ?",
                     (source, newest - _REMEMBERED * timeout_us))
        conn.execute("DELETE FROM sessions_done WHERE source = ? AND last_us < ?",
                     (source, newest - _DONE_REMEMBERED * timeout_us))
    refused.sort(key=lambda r: (r.file, r.position))
    return to_table(records), refused


def _remember(conn: sqlite3.Connection, source: str, session_id: str, parts: Sequence[tuple[Any, ...]]) -> int:
    """Keeps the parts of an emitted session (a fragment joins what is kept of its session, which it keeps for
    longer if it is the newest); returns its latest part's time."""
    last = max(p[_IDX["started_us"]] for p in parts)
    conn.executemany("INSERT OR IGNORE INTO partials_emitted VALUES (?, ?, ?, ?, ?)",
                     [(source, p[_IDX["record_id"]], session_id, p[_IDX["seq"]], last) for p in parts])
    conn.execute("UPDATE partials_emitted SET last_us = ? WHERE source = ? AND session_id = ? AND last_us < ?",
                 (last, source, session_id, last))
    return int(last)


def _repeat_reject(conn: sqlite3.Connection, session: Session, part: tuple[Any, ...],
                   kept: Sequence[tuple[Any, ...]]) -> Reject:
    """A repeated part held from an earlier file: its file and line from its arrival, its fields as the raw
    record (its original bytes were not kept when it was held)."""
    arrival = part[_IDX["arrival"]]
    file_seq, position = arrival >> 32, arrival & 0xFFFFFFFF
    found = conn.execute("SELECT name FROM files WHERE seq = ?", (file_seq,)).fetchone()
    seq = part[_IDX["seq"]]
    owner = next(p[_IDX["record_id"]] for p in kept if p[_IDX["seq"]] == seq)
    fields = {c: part[_IDX[c]] for c in _COLS if c != "arrival" and part[_IDX[c]] is not None}
    return Reject(found[0] if found else f"(file {file_seq})", position, Reason.CONFLICTING_PART.value, "seq",
                  f"seq: session {session.session_id} already has part {seq} as record {owner} (this is record "
                  f"{part[_IDX['record_id']]}, held before such parts were refused on arrival); the first one is kept",
                  json.dumps(fields, ensure_ascii=False).encode())


def held_from(conn: sqlite3.Connection, file_seq: int) -> int:
    lo, hi = arrival_range(file_seq)
    (n,) = conn.execute("SELECT COUNT(*) FROM partials WHERE arrival >= ? AND arrival < ?", (lo, hi)).fetchone()
    return int(n)


def held_ids(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute("SELECT source, record_id FROM partials ORDER BY source, record_id")]
