"""Readers, one per format, behind one protocol (``_base.Reader``). ``--format NAME`` picks one;
otherwise ``detect`` asks each reader to sniff the head of the file, in the order below (most specific
first, canonical CSV last)."""

from __future__ import annotations

import bz2
import gzip
import importlib
import inspect
import lzma
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fairtel.mediation.readers._base import POS, RAW, WRITTEN, RawBatch, Reader, Reject
from fairtel.mediation.readers._errors import UnreadableFileError

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


def get_reader(name: str, *, timezone: str | None = None) -> Reader:
    """The reader of format ``name``. ``timezone``: the zone of the switch's clock, for the formats that write
    local times without an offset (Asterisk and FreeSWITCH CSV, FreeSWITCH JSON records without epochs); the
    other formats carry their offsets and take no zone."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(_REGISTRY)}") from None
    module, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    if timezone is not None and "timezone" in inspect.signature(cls).parameters:
        reader: Reader = cls(timezone=timezone)
    else:
        reader = cls()
    return reader


def detect(path: Path, head: bytes, *, timezone: str | None = None) -> Reader | None:
    for name in _REGISTRY:
        try:
            reader = get_reader(name, timezone=timezone)
        except ImportError:  # an optional format whose decoder is not installed
            continue
        if reader.sniff(head, path):
            return reader
    return None


# The first bytes of compressed files and archives: none of the formats starts so (a gzip member: ID1 ID2,
# deflate, flags with the reserved bits clear, RFC 1952)
_COMPRESSED: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("gzip", lambda h: h[:3] == b"\x1f\x8b\x08" and len(h) > 3 and h[3] & 0xE0 == 0),
    ("zip", lambda h: h[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")),
    ("bzip2", lambda h: h[:3] == b"BZh" and len(h) > 3 and h[3:4].isdigit()),
    ("xz", lambda h: h[:6] == b"\xfd7zXZ\x00"),
    ("zstd", lambda h: h[:4] == b"\x28\xb5\x2f\xfd"),
    ("7z", lambda h: h[:6] == b"7z\xbc\xaf\x27\x1c"),
)


class CompressedFileError(UnreadableFileError):
    """A compressed file or an archive (gzip, zip, ...): no reader reads one, whatever ``--format`` says; it is
    to be decompressed, and its files ingested, first."""

    code = "compressed_file"


def compression(head: bytes) -> str | None:
    """The compression or archive format a file's first bytes show (gzip, zip, bzip2, xz, zstd, 7z), or None."""
    for name, test in _COMPRESSED:
        if test(head):
            return name
    return None


# Read as the stream they hold: one file compressed whole. An archive (zip, 7z) may hold several files and is
# refused, as is zstd, which Python does not read.
_STREAMS: dict[str, Callable[[Path, str], Any]] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
_SUFFIXES = {"gzip": (".gz", ".gzip"), "bzip2": (".bz2",), "xz": (".xz",)}
_UNPACK = {"zip": "unzip FILE", "zstd": "unzstd FILE", "7z": "7z x FILE", "gzip": "gunzip FILE",
           "bzip2": "bunzip2 FILE", "xz": "unxz FILE"}


def refuse_compressed(path: Path, head: bytes) -> None:
    """Raises ``CompressedFileError`` for a file that is compressed or an archive (``compression(head)``)."""
    packed = compression(head)
    if packed is None:
        return
    what = "archive" if packed in ("zip", "7z") else "compressed file"
    holds = "the files it holds" if packed in ("zip", "7z") else "the file it holds"
    raise CompressedFileError(
        f"{path}: a {packed} {what}, which is not read as such; decompress it first "
        f"({_UNPACK[packed].replace('FILE', path.name)}) and ingest {holds}")


@contextmanager
def unpacked(path: Path, scratch: Path) -> Iterator[Path]:
    """The file to read for ``path``: ``path`` itself, or for a gzip, bzip2 or xz file the text or data it
    holds, decompressed into a temporary file under ``scratch`` (removed afterwards) named like ``path`` without
    its compression suffix (``Master.csv.gz`` -> ``Master.csv``), so a reject's position is a line of the
    decompressed text. A gzip file of several members (files compressed one by one and joined) is read whole.
    ``CompressedFileError``: an archive (zip, 7z) or zstd, or a stream that cannot be decompressed (damaged,
    or cut short while still being copied): nothing of it is read."""
    with open(path, "rb") as f:
        head = f.read(16)
    packed = compression(head)
    if packed is None:
        yield path
        return
    opener = _STREAMS.get(packed)
    if opener is None:
        refuse_compressed(path, head)
        return
    name = path.name
    for suffix in _SUFFIXES.get(packed, ()):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="unpacked-", dir=scratch) as tmp:
        out = Path(tmp) / name
        try:
            with opener(path, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise CompressedFileError(
                f"{path}: the {packed} data cannot be decompressed ({exc or type(exc).__name__}): the file is "
                "damaged or cut short (still being copied?); nothing of it is read") from None
        yield out


__all__ = [
    "POS",
    "RAW",
    "WRITTEN",
    "CompressedFileError",
    "RawBatch",
    "Reader",
    "Reject",
    "compression",
    "detect",
    "get_reader",
    "reader_names",
    "refuse_compressed",
    "unpacked",
]
