"""Partial records: parts of one long session (session_id, seq, final) held durably until the session is
complete or times out, then stitched into one clean record. Never dropped.

A session is complete when a final part has arrived and, when the parts carry ``seq``, the sequence numbers
run without a gap from 0 or 1 up to the final part's. It times out when the newest record time seen from its
source is more than ``partial_timeout_s`` past its latest part (record time, not wall-clock time, so a rerun
makes the same decisions); it is then emitted flagged ``incomplete``, as is a part that arrives after its
session was already emitted (it becomes a session fragment of its own).

Stitching: the first part (by seq, then start, then arrival) gives the record_id and the descriptive fields;
``started_at`` is the earliest start; duration, volumes and amounts are summed; ``parts`` counts them.

A session has one part per sequence number. A part numbered like one its session already holds, under another
record id, is refused (``conflicting_part``, with its original bytes), the part that came first being kept:
holding both would leave the sequence with a repeat it can never complete, and either one alone may be the
right one, so the later one goes where a person can see it rather than being summed or silently dropped.
(The same record id again is a duplicate, as anywhere.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.mediation._validate import FINAL, SEQ
from fairtel.mediation.readers import POS

# (column in the partials table, column of the clean batch it comes from)
_STORED = (
    ("source", "source"), ("record_id", "record_id"), ("session_id", "session_id"), ("seq", SEQ),
    ("final", FINAL), ("arrival", None), ("started_us", "started_at"), ("msisdn", "msisdn"), ("kind", "kind"),
    ("direction", "direction"), ("duration_s", "duration_s"), ("bytes_up", "bytes_up"),
    ("bytes_down", "bytes_down"), ("peer", "peer"), ("offer_id", "offer_id"), ("amount_minor", "amount_minor"),
    ("currency", "currency"), ("roaming_country", "roaming_country"), ("cell_id", "cell_id"), ("imei", "imei"),
)
_COLS = [c for c, _ in _STORED]
_IDX = {c: i for i, c in enumerate(_COLS)}
_SUMMED = ("duration_s", "bytes_up", "bytes_down", "amount_minor")
_FIRST = ("msisdn", "kind", "direction", "peer", "offer_id", "currency", "roaming_country", "cell_id", "imei")


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


def conflicting_parts(conn: sqlite3.Connection, clean: pa.Table) -> list[tuple[int, str]]:
    """Rows of ``clean`` (the accepted records of one batch, in file order) that are parts numbered like a part
    held for their session, or like an earlier row of the batch, under another record id: ``(row, the record id
    that has the number)``. Checked before dedup, so a refused part claims no key and a corrected resend of it
    is read again."""
    seqs = clean.column(SEQ)
    sessions = clean.column("session_id")
    numbered = pc.and_(pc.is_valid(sessions), pc.is_valid(seqs))
    rows = np.flatnonzero(np.asarray(numbered.to_numpy(zero_copy_only=False), dtype=bool))
    if not len(rows):
        return []
    sel = pa.array(rows)
    columns = [clean.column(c).take(sel).to_pylist() for c in ("source", "session_id", SEQ, "record_id")]
    taken: dict[tuple[str, str, int], str] = {}
    out: list[tuple[int, str]] = []
    for row, source, session_id, seq, record_id in zip(rows.tolist(), *columns, strict=True):
        key = (source, session_id, seq)
        owner = taken.get(key)
        if owner is None:
            held = [r for r, in conn.execute(
                "SELECT record_id FROM partials WHERE source = ? AND session_id = ? AND seq = ? ORDER BY arrival", key)]
            owner = taken[key] = record_id if not held or record_id in held else held[0]
        if owner != record_id:
            out.append((row, owner))
    return out


@dataclass(frozen=True, slots=True)
class Session:
    source: str
    session_id: str
    parts: list[tuple[Any, ...]]  # rows in the order of _COLS


def is_complete(parts: Sequence[tuple[Any, ...]]) -> bool:
    finals = [p for p in parts if p[_IDX["final"]]]
    if not finals:
        return False
    seqs = [p[_IDX["seq"]] for p in parts]
    if any(s is None for s in seqs):
        return True  # no sequence numbers to check gaps with: the final part closes the session
    s = sorted(seqs)
    final_seq = max(p[_IDX["seq"]] for p in finals)
    return s[0] in (0, 1) and s == list(range(s[0], s[0] + len(s))) and final_seq == s[-1]


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
    return rec


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
            flush: bool = False) -> pa.Table:
    """Stitches and removes the sessions due now: those this file completed, those past the timeout, and with
    ``flush`` every one still held. Returns their records, in a deterministic order."""
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
    if not due:
        return to_table([])
    records = []
    for s in _load(conn, sorted(due)):
        if not s.parts:
            continue
        late = conn.execute("SELECT 1 FROM sessions_done WHERE source = ? AND session_id = ?",
                            (s.source, s.session_id)).fetchone() is not None
        complete = due[(s.source, s.session_id)] and not late
        records.append(stitch(s, incomplete=not complete))
        conn.execute("DELETE FROM partials WHERE source = ? AND session_id = ?", (s.source, s.session_id))
        conn.execute("INSERT OR IGNORE INTO sessions_done VALUES (?, ?)", (s.source, s.session_id))
    return to_table(records)


def held_from(conn: sqlite3.Connection, file_seq: int) -> int:
    lo, hi = arrival_range(file_seq)
    (n,) = conn.execute("SELECT COUNT(*) FROM partials WHERE arrival >= ? AND arrival < ?", (lo, hi)).fetchone()
    return int(n)


def held_ids(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute("SELECT source, record_id FROM partials ORDER BY source, record_id")]
