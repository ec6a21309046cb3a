"""Readers, one per format, behind one protocol (``_base.Reader``). ``--format NAME`` picks one;
otherwise ``detect`` asks each reader to sniff the head of the file, in the order below (most specific
first, canonical CSV last)."""

from __future__ import annotations

import importlib
from pathlib import Path

from fairtel.mediation.readers._base import POS, RAW, WRITTEN, RawBatch, Reader, Reject

# name -> "module:Class", in sniffing order. Each format's module adds its own line here.
_REGISTRY: dict[str, str] = {
    "tap3": "fairtel.mediation.readers._tap3:Tap3Reader",
    "3gpp-ber": "fairtel.mediation.readers._ber:GprsBerReader",
    "freeswitch-json": "fairtel.mediation.readers._freeswitch:FreeswitchJsonReader",
    "freeswitch-csv": "fairtel.mediation.readers._freeswitch:FreeswitchCsvReader",
    "asterisk-csv": "fairtel.mediation.readers._asterisk:AsteriskCsvReader",
    "parquet": "fairtel.mediation.readers._canonical:ParquetReader",
    "jsonl": "fairtel.mediation.readers._canonical:JsonlReader",
    "csv": "fairtel.mediation.readers._canonical:CsvReader",
}


def reader_names() -> list[str]:
    return list(_REGISTRY)


def get_reader(name: str) -> Reader:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(_REGISTRY)}") from None
    module, cls = target.split(":")
    reader: Reader = getattr(importlib.import_module(module), cls)()
    return reader


def detect(path: Path, head: bytes) -> Reader | None:
    for name in _REGISTRY:
        try:
            reader = get_reader(name)
        except ImportError:  # an optional format whose decoder is not installed
            continue
        if reader.sniff(head, path):
            return reader
    return None


__all__ = ["POS", "RAW", "WRITTEN", "RawBatch", "Reader", "Reject", "detect", "get_reader", "reader_names"]
