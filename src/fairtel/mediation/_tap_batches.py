"""The TAP transfer batches a home has read: one row per batch (sender, recipient, file sequence number), naming
the file it came in and that file's content hash, in mediation's state database (``_state``).

TD.57 makes a repeated file sequence number fatal for the whole batch: a batch numbered like one read before
(same sender, recipient and number) but with other content is refused as ``tap_batch_repeated``, naming the file
the number was first read in, and none of its call events is accepted (its record ids, built from the number and
the event's place in the batch, would otherwise match the earlier batch's events and be dropped as duplicates). The
same file delivered again is found by its content hash before this (``already_ingested``).

A batch is claimed in the transaction that registers its file (``claim``), so a crash leaves neither or both.
Only a batch read whole (its audit control info checked) is claimed: one cut short can be sent again complete.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from fairtel.mediation.readers._errors import UnreadableFileError

SCHEMA = """
CREATE TABLE IF NOT EXISTS tap_batches (
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sequence TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (sender, recipient, sequence)
)
"""


class TapBatchRepeatedError(UnreadableFileError):
    """A TAP transfer batch whose file sequence number (with its sender and recipient) was read before in a file
    of other content: fatal for the whole batch (TD.57), none of it is read."""

    code = "tap_batch_repeated"


@dataclass(frozen=True, slots=True)
class BatchId:
    """What names a TAP transfer batch: its sender, its recipient and its file sequence number, as written."""

    sender: str
    recipient: str
    sequence: str

    def __str__(self) -> str:
        return f"{self.sequence} from {self.sender} to {self.recipient}"


def claim(conn: sqlite3.Connection, batch: BatchId, content_hash: str, name: str) -> None:
    """Records ``batch`` as read in the file ``name`` (``content_hash``), within the caller's transaction; raises
    ``TapBatchRepeatedError`` when a file of other content holds a batch of that sender, recipient and number
    (the transaction is then rolled back by the caller: nothing of the file is kept)."""
    conn.execute(SCHEMA)
    row = conn.execute("SELECT content_hash, name, claimed_at FROM tap_batches WHERE sender = ? AND recipient = ? "
                       "AND sequence = ?", (batch.sender, batch.recipient, batch.sequence)).fetchone()
    if row is None:
        conn.execute("INSERT INTO tap_batches (sender, recipient, sequence, content_hash, name, claimed_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (batch.sender, batch.recipient, batch.sequence, content_hash, name,
                                                  datetime.now(UTC).isoformat(timespec="seconds")))
        return
    first_hash, first_name, first_at = row
    if first_hash == content_hash:
        return
    raise TapBatchRepeatedError(
        f"{name}: TAP transfer batch {batch} repeats the file sequence number of the batch read from {first_name} "
        f"at {first_at}, with other content: a repeated sequence number is fatal for the whole batch (TD.57), so "
        f"none of its call events is read. Ask the sender ({batch.sender}) for the batch under its own number",
        details={"sender": batch.sender, "recipient": batch.recipient, "file_sequence_number": batch.sequence,
                 "first_file": first_name, "first_read_at": first_at})


def claimed(conn: sqlite3.Connection, batch: BatchId) -> str | None:
    """The file ``batch`` was read from, None when it was not."""
    conn.execute(SCHEMA)
    row = conn.execute("SELECT name FROM tap_batches WHERE sender = ? AND recipient = ? AND sequence = ?",
                       (batch.sender, batch.recipient, batch.sequence)).fetchone()
    return None if row is None else str(row[0])
