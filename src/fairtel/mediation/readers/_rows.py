"""Row accumulation shared by the switch and roaming readers: records go in one by one as dicts of
canonical fields, batches come out as Arrow tables with ``_pos`` and ``_raw``."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from fairtel.mediation.readers._base import POS, RAW, RawBatch, Reject

# Types of the columns the binary readers fill with native values; everything else is a string.
NATIVE_TYPES: dict[str, pa.DataType] = {
    "duration_s": pa.int64(),
    "bytes_up": pa.int64(),
    "bytes_down": pa.int64(),
    "seq": pa.int64(),
    "final": pa.bool_(),
}

MAX_RAW = 1 << 20  # a reject keeps at most this many original bytes; the position finds the rest


class BatchBuilder:
    """Collects records and rejects until ``full``; ``flush`` turns them into one ``RawBatch``."""

    def __init__(self, columns: tuple[str, ...], *, batch_size: int, types: Mapping[str, pa.DataType] | None = None,
                 ) -> None:
        self.columns = columns
        self.batch_size = max(1, batch_size)
        self.types = {c: (types or {}).get(c, pa.string()) for c in columns}
        self._values: dict[str, list[object]] = {c: [] for c in columns}
        self._pos: list[int] = []
        self._raw: list[bytes] = []
        self._rejects: list[Reject] = []

    def add(self, pos: int, raw: bytes, record: Mapping[str, object]) -> None:
        for column in self.columns:
            self._values[column].append(record.get(column))
        self._pos.append(pos)
        self._raw.append(raw)

    def reject(self, reject: Reject) -> None:
        self._rejects.append(reject)

    @property
    def full(self) -> bool:
        return len(self._pos) + len(self._rejects) >= self.batch_size

    def __len__(self) -> int:
        return len(self._pos) + len(self._rejects)

    def flush(self) -> RawBatch:
        arrays = [pa.array(self._values[c], type=self.types[c]) for c in self.columns]
        arrays.append(pa.array(self._pos, type=pa.int64()))
        arrays.append(pa.array(self._raw, type=pa.binary()))
        table = pa.Table.from_arrays(arrays, names=[*self.columns, POS, RAW])
        batch = RawBatch(table=table, rejects=self._rejects)
        self._values = {c: [] for c in self.columns}
        self._pos, self._raw, self._rejects = [], [], []
        return batch


def make_reject(file: str, position: int, reason: str, message: str, raw: bytes, field: str | None = None) -> Reject:
    return Reject(file=file, position=position, reason=reason, field=field, message=message, raw=bytes(raw[:MAX_RAW]))
