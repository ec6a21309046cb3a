"""The one protocol every reader follows.

A reader turns a file into ``RawBatch``es: records in canonical field names (DESIGN.md usage record), not
yet validated, each with its position in the file, plus the records it could not even split into fields.
Validation, dedup and stitching are shared and happen after the reader (fairtel.mediation).

Accounting rule: for every batch, ``batch.table.num_rows + len(batch.rejects)`` is the number of records
the reader consumed, so that per file ``read = accepted + rejected + duplicate`` holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import pyarrow as pa


def bulk_pool() -> pa.MemoryPool:
    """The memory pool for mediation's bulk buffers (parsed CSV blocks, the lake writer's pages): jemalloc
    where pyarrow has it, otherwise the default pool. Batches of the same size come and go all the time; with
    jemalloc the process spends less time in the kernel getting their memory back (on 10 M canonical CSV
    records: about 0.5 s less system time, 3-5 % less CPU in all, peak memory unchanged)."""
    global _BULK_POOL
    if _BULK_POOL is None:
        try:
            _BULK_POOL = pa.jemalloc_memory_pool()
        except NotImplementedError:
            _BULK_POOL = pa.default_memory_pool()
    return _BULK_POOL


_BULK_POOL: pa.MemoryPool | None = None
_BULK_DEFAULT_LOCK = threading.Lock()
_BULK_DEFAULT_USERS = 0
_BULK_DEFAULT_BEFORE: pa.MemoryPool | None = None


@contextmanager
def bulk_default_pool() -> Iterator[None]:
    """Makes the bulk pool Arrow's default memory pool while an ingest runs (its previous default is back when
    the last ingest of the process ends). Most of an ingest's buffers come from Arrow code that takes no pool
    (the Parquet reader's decoding, compute kernels, concatenation): with the default mimalloc pool, buffers of
    megabytes are returned to the system and zeroed again by the kernel on every batch, about a fifth of the CPU
    of an ingest of canonical Parquet or CSV. A buffer is always freed to the pool it came from, so buffers
    allocated before or after, or by other threads meanwhile, are unaffected but for where they live."""
    global _BULK_DEFAULT_USERS, _BULK_DEFAULT_BEFORE
    with _BULK_DEFAULT_LOCK:
        if _BULK_DEFAULT_USERS == 0:
            _BULK_DEFAULT_BEFORE = pa.default_memory_pool()
            pa.set_memory_pool(bulk_pool())
        _BULK_DEFAULT_USERS += 1
    try:
        yield
    finally:
        with _BULK_DEFAULT_LOCK:
            _BULK_DEFAULT_USERS -= 1
            if _BULK_DEFAULT_USERS == 0 and _BULK_DEFAULT_BEFORE is not None:
                pa.set_memory_pool(_BULK_DEFAULT_BEFORE)
                _BULK_DEFAULT_BEFORE = None

POS = "_pos"  # int64: 1-based line number (text formats) or byte offset of the record (binary formats)
RAW = "_raw"  # binary, optional: the original line or record bytes; when absent, rejects recover it by position
# Optional text columns ``_written:<field>``: a field's value as the file wrote it, when the reader converted it (a
# field map's unit, replace, map or timestamp format). A reject for that field quotes this, not the converted value.
WRITTEN = "_written:"


@dataclass(frozen=True, slots=True)
class Reject:
    """A record refused, with a stable reason code and the original bytes and position, so nothing is lost."""

    file: str
    position: int
    reason: str  # stable code: column_count, bad_timestamp, missing_field, bad_value, undecodable, ...
    field: str | None
    message: str
    raw: bytes = b""


@dataclass(slots=True)
class RawBatch:
    """Columns named after canonical fields (any subset of fairtel.core.contracts.USAGE_FIELDS) holding
    strings (text formats) or native Arrow values (Parquet, decoded binary), plus ``_pos`` and optionally
    ``_raw``. Extra non-canonical columns are ignored by validation."""

    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    # Optional: the original bytes of the records at these ``_pos`` values (a text reader keeps its block and
    # slices it only for the few records validation refuses, instead of carrying ``_raw`` for every row).
    raw_of: Callable[[Sequence[int]], list[bytes]] | None = None

    @property
    def consumed(self) -> int:
        return self.table.num_rows + len(self.rejects)


@runtime_checkable
class Reader(Protocol):
    """One per format. ``name`` is what ``--format`` takes; ``sniff`` lets ``ingest`` detect the format."""

    name: ClassVar[str]

    def sniff(self, head: bytes, path: Path) -> bool: ...

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]: ...
