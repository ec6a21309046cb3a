"""Delimited text read fast, with every line accounted for.

A file is cut into blocks at line ends; each block is parsed by the Arrow CSV parser (all columns as strings,
two blocks in flight on a small thread pool, the parser releases the GIL) and positions are physical line
numbers in the file. Lines the parser refuses (wrong number of fields) become ``column_count`` rejects, or
``truncated`` for an unterminated last line. A block the fast path cannot account for exactly (invalid UTF-8,
a quoted value spanning lines) is re-read line by line with the ``csv`` module, so nothing is lost either way.

Encodings: unless a field map declares one, each line is decoded on its own: UTF-8 when it is valid UTF-8, else
GB18030 (a superset of the GBK that Chinese switches write), else it is rejected (undecodable). A file is never
read in one encoding as a whole, since one switch's file may hold lines of both (a UTF-8 line read as GB18030
would be accepted as garbled text). A line of Chinese in GB18030 is almost never valid UTF-8 (its byte pairs do
not follow UTF-8's lead/continuation pattern), so the rule reads both correctly. A BOM (UTF-8 or GB18030) is
skipped. NUL bytes in most lines of the head mean the file is not text at all (binary data, UTF-16), as do
non-ASCII lines in the head that are mostly neither UTF-8 nor GB18030; a line of a text file holding a NUL byte
is rejected alone (undecodable).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from fairtel.mediation.readers._base import POS, RawBatch, Reject, bulk_pool
from fairtel.mediation.readers._errors import UnreadableFileError

BOMS: tuple[tuple[bytes, str], ...] = ((b"\xef\xbb\xbf", "utf-8"), (b"\x84\x31\x95\x33", "gb18030"))
AUTO = "utf-8|gb18030"  # no declared encoding: each line UTF-8 when valid, else GB18030
HEAD_BYTES = 1 << 16
_MIN_BLOCK = 1 << 18
_MAX_BLOCK = 1 << 26  # 64 MiB of text (~600 k canonical records): bounds memory, costs no speed
_PROBE = 1 << 16  # bytes read at a time when looking backwards for a block's last line end


@dataclass(frozen=True, slots=True)
class TextDialect:
    delimiter: str = ","
    quote: str | None = '"'
    header: bool = True
    encoding: str | None = None  # None: each line UTF-8 when valid, else GB18030 (AUTO)
    skip_lines: int = 0  # lines before the header (or before the data when there is no header)


@dataclass(frozen=True, slots=True)
class TextLayout:
    """What the head of a file says: encoding, where data starts, the header's column names."""

    encoding: str  # AUTO (decided line by line) or the encoding a field map declares
    bom: int  # bytes of BOM to skip
    data_offset: int  # byte offset of the first data line
    first_line: int  # its 1-based line number
    header: list[str] | None
    ncols: int
    avg_line: float


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def detect_encoding(head: bytes) -> tuple[str, int]:
    """(AUTO, BOM length) from the first bytes of a file; raises UnreadableFileError for binary data. The
    encoding is decided line by line when the file is read (``decode_text``); the head only tells text from
    binary data."""
    bom = next((len(b) for b, _ in BOMS if head.startswith(b)), 0)
    if bom:
        return AUTO, bom
    if is_binary(head):
        raise UnreadableFileError("not a text file: NUL bytes in most lines of the first 64 KiB (binary data or "
                                  "UTF-16)")
    lines = [ln for ln in head.split(b"\n")[:-1] if any(b >= 0x80 for b in ln)] if len(head) == HEAD_BYTES else [
        ln for ln in head.split(b"\n") if any(b >= 0x80 for b in ln)
    ]
    readable = sum(decode_line(ln) is not None for ln in lines)
    if readable * 2 < len(lines):
        raise UnreadableFileError(
            f"not a text file: {len(lines) - readable} of {len(lines)} non-ASCII lines in the head are neither "
            "UTF-8 nor GB18030"
        )
    return AUTO, 0


def decode_line(raw: bytes) -> str | None:
    """One line of a file with no declared encoding: UTF-8 when it is valid UTF-8, else GB18030; None when it
    is neither. The one rule of every text reader, so that no line is read in another line's encoding."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return None


def decode_text(raw: bytes, encoding: str) -> str:
    """One line in ``encoding`` (AUTO: ``decode_line``'s rule); raises UnicodeDecodeError when it does not
    decode (for AUTO, the error of UTF-8)."""
    if encoding != AUTO:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = _gb18030(raw)
        if text is None:
            raise exc from None
        return text


def encoding_name(encoding: str) -> str:
    """How messages name an encoding."""
    return "UTF-8 nor GB18030" if encoding == AUTO else encoding


def is_binary(head: bytes) -> bool:
    """Whether a file head holding NUL bytes is binary data rather than text with a few damaged lines: NUL bytes
    in more than half of its non-empty lines (UTF-16 puts one beside every ASCII character, so in every line;
    binary data has them everywhere). A text file with a damaged record, or a zero-filled tail left by a crash,
    keeps its other lines, each rejected or read on its own."""
    if b"\x00" not in head:
        return False
    lines = head.split(b"\n")
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()  # the last piece may be cut
    lines = [ln for ln in lines if ln.rstrip(b"\r")]
    return 2 * sum(b"\x00" in ln for ln in lines) > len(lines)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def split_fields(line: str, dialect: TextDialect) -> list[str]:
    if dialect.quote is None:
        return line.split(dialect.delimiter)
    rows = list(csv.reader([line], delimiter=dialect.delimiter, quotechar=dialect.quote, strict=False))
    return rows[0] if rows else []


def read_layout(path: Path, dialect: TextDialect) -> TextLayout:
    head = read_head(path)
    if not head:
        return TextLayout("utf-8", 0, 0, 1, [] if dialect.header else None, 0, 100.0)
    if dialect.encoding:
        # a declared encoding holds for every line; UTF-8 declared is the default rule (a GBK line in a UTF-8
        # file is still read as GB18030, as it always was)
        encoding, bom = dialect.encoding, next((len(b) for b, _ in BOMS if head.startswith(b)), 0)
        if codecs.lookup(encoding).name == "utf-8":
            encoding = AUTO
    else:
        encoding, bom = detect_encoding(head)
    offset, line_no = bom, 1
    for _ in range(dialect.skip_lines):
        nl = head.find(b"\n", offset)
        if nl < 0:
            raise UnreadableFileError(f"fewer than {dialect.skip_lines} lines before the data")
        offset, line_no = nl + 1, line_no + 1
    header: list[str] | None = None
    sample_end = head.find(b"\n", offset)
    if dialect.header:
        nl = head.find(b"\n", offset)
        if nl < 0 and len(head) == HEAD_BYTES:
            raise UnreadableFileError("header line longer than 64 KiB")
        raw = head[offset : nl if nl >= 0 else len(head)].rstrip(b"\r")
        try:
            text = decode_text(raw, encoding)
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"line {line_no}: header is not valid {encoding_name(encoding)}: "
                                      f"{exc.reason}") from None
        try:
            fields = split_fields(text, dialect)
        except csv.Error as exc:
            raise UnreadableFileError(f"line {line_no}: the header cannot be split into fields: {exc}") from None
        header = [h.strip().strip('"').strip() for h in fields]
        if not any(header):
            raise UnreadableFileError(f"line {line_no}: empty header")
        dupes = sorted({h for h in header if h and header.count(h) > 1})
        if dupes:
            raise UnreadableFileError(f"line {line_no}: header names a column twice: {', '.join(dupes)}")
        offset, line_no = (nl + 1 if nl >= 0 else len(head)), line_no + 1
        ncols = len(header)
        sample_end = head.find(b"\n", offset)
    else:
        first = head[offset : sample_end if sample_end >= 0 else len(head)].rstrip(b"\r")
        try:
            ncols = len(split_fields(_decode_lenient(first, encoding), dialect))
        except csv.Error:
            ncols = 1
    body = head[offset:]
    n = body.count(b"\n")
    avg = len(body) / n if n else max(len(body), 100)
    return TextLayout(encoding, bom, offset, line_no, header, ncols, float(avg))


def block_bytes_for(batch_size: int, avg_line: float) -> int:
    return int(min(max(batch_size * avg_line, _MIN_BLOCK), _MAX_BLOCK))


@dataclass(slots=True)
class _Block:
    data: bytes
    first_line: int
    last: bool  # the last block of the file
    newlines: int  # data.count(b"\n"), counted once


def _last_newline(f: BinaryIO, lo: int, hi: int) -> int:
    """File offset of the last line end in bytes [lo, hi) of ``f``, or -1, reading backwards from ``hi``."""
    while hi > lo:
        start = max(lo, hi - _PROBE)
        f.seek(start)
        i = f.read(hi - start).rfind(b"\n")
        if i >= 0:
            return start + i
        hi = start
    return -1


def iter_blocks(path: Path, *, offset: int, first_line: int, block_bytes: int) -> Iterator[_Block]:
    """Blocks of whole lines (the last one may lack its newline).

    Block ends fall at the last line end within each ``block_bytes`` step from ``offset`` (a step holding none
    is merged into the next; when a block ends exactly at a step's end, the next step joins the following
    block). Only the neighbourhood of each end is probed, so every block is read once, straight into its own
    bytes, instead of being assembled from chunks (two more copies of every byte)."""
    line = first_line
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start = stepped = offset  # the next block starts at `start`; the steps so far cover up to `stepped`
        ahead = False  # whether [start, stepped) may hold line ends (a whole step looked at ahead)
        while True:
            if stepped >= size:
                if start < stepped:
                    f.seek(start)
                    data = f.read(stepped - start)
                    yield _Block(data, line, True, data.count(b"\n"))
                return
            end = min(stepped + block_bytes, size)
            cut = _last_newline(f, stepped, end)
            if cut < 0 and ahead:
                cut = _last_newline(f, start, stepped)
            stepped = end
            if cut < 0:
                ahead = False  # nothing to find again in [start, stepped)
                continue
            f.seek(start)
            data = f.read(cut + 1 - start)
            start, ahead = cut + 1, False
            if start == stepped:  # is this the end of the file?
                if stepped >= size:
                    yield _Block(data, line, True, data.count(b"\n"))
                    return
                stepped, ahead = min(stepped + block_bytes, size), True
            block = _Block(data, line, False, data.count(b"\n"))
            yield block
            line += block.newlines


def _line_starts(data: bytes) -> np.ndarray:
    """Start offsets of every line plus one past the end (so line i is data[s[i]:s[i+1]])."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = nl + 1
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    return np.concatenate([np.zeros(1, dtype=np.int64), ends.astype(np.int64)])


def _nonempty_lines(data: bytes) -> np.ndarray:
    """Indexes of the lines that hold anything besides their line end (the parser skips the others)."""
    starts = _line_starts(data)
    if len(starts) < 2:
        return np.zeros(0, dtype=np.int64)
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = starts[1:]
    has_nl = arr[ends - 1] == 10
    content = np.diff(starts) - has_nl
    last = np.maximum(ends - 1 - has_nl, 0)
    content = content - ((content >= 1) & (arr[last] == 13))
    return np.flatnonzero(content > 0)


class _RawLines:
    """Slices original lines out of a block, computing line offsets only when first asked."""

    __slots__ = ("_data", "_first", "_starts")

    def __init__(self, data: bytes, first_line: int) -> None:
        self._data = data
        self._first = first_line
        self._starts: np.ndarray | None = None

    def __call__(self, positions: Sequence[int]) -> list[bytes]:
        if self._starts is None:
            self._starts = _line_starts(self._data)
        s = self._starts
        out = []
        for p in positions:
            i = int(p) - self._first
            out.append(self._data[s[i] : s[i + 1]].rstrip(b"\r\n") if 0 <= i < len(s) - 1 else b"")
        return out


@dataclass(frozen=True, slots=True)
class BlockParser:
    """Parses one block into a RawBatch of string columns named ``names`` (physical columns in order),
    keeping only ``keep`` (a subset of names) to save conversion."""

    file: str
    names: list[str]
    keep: list[str]
    dialect: TextDialect
    encoding: str

    def __call__(self, block: _Block) -> RawBatch:
        if self.encoding == AUTO:
            utf8: bytes | None = as_utf8(block.data)
        else:
            try:
                utf8 = block.data.decode(self.encoding).encode("utf-8")
            except UnicodeDecodeError:
                utf8 = None
        # a NUL byte in a text line is rejected (undecodable) line by line; Arrow's parser would accept it, so a
        # block holding one is read line by line too and the line's verdict does not depend on its neighbours
        # a BOM opening a line inside the file (files joined end to end) is not data: read line by line, dropped
        if utf8 is not None and b"\x00" not in utf8 and b"\xef\xbb\xbf" not in utf8:
            fast = self._fast(block, utf8)
            if fast is not None:
                return fast
        return self._slow(block)

    # Arrow's parser; None when the block cannot be accounted for exactly.
    def _fast(self, block: _Block, utf8: bytes) -> RawBatch | None:
        if self.dialect.quote and _irregular_quotes(utf8, self.dialect.quote, self.dialect.delimiter):
            return None  # the parser may read such quoting differently from the line-by-line reading
        bad: list[tuple[int, int]] = []

        def handler(row: pcsv.InvalidRow) -> str:
            bad.append((row.number if row.number is not None else -1, row.actual_columns))
            return "skip"

        ncols = len(self.names)
        try:
            table = pcsv.read_csv(
                pa.BufferReader(utf8),  # zero-copy, read without the GIL
                read_options=pcsv.ReadOptions(
                    column_names=self.names, use_threads=False, block_size=1 << 20
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.dialect.delimiter,
                    quote_char=self.dialect.quote if self.dialect.quote else False,
                    invalid_row_handler=handler,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(self.keep, pa.string()),
                    include_columns=self.keep,
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=False,
                    # checked (or made) by the caller: as_utf8, or a declared encoding's text encoded again
                    check_utf8=False,
                ),
                memory_pool=bulk_pool(),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        data = block.data
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None  # a bare CR ends a row for the parser but not a line for us: count line by line
        nlines = block.newlines + (0 if not data or data.endswith(b"\n") else 1)
        raw_of = _RawLines(data, block.first_line)
        # With no bare CR each row comes from at least one non-empty line, so as many rows as lines means
        # no line was empty or joined to another: row i is line i.
        if not bad and table.num_rows == nlines:
            pos = np.arange(block.first_line, block.first_line + nlines, dtype=np.int64)
            return RawBatch(table.append_column(POS, pa.array(pos)), [], raw_of)
        if any(number < 1 for number, _ in bad):
            return None
        nonempty = _nonempty_lines(data)
        bad_idx = np.array(sorted(n - 1 for n, _ in bad), dtype=np.int64)
        if len(bad_idx) and bad_idx[-1] >= len(nonempty):
            return None
        good = np.delete(nonempty, bad_idx) if len(bad_idx) else nonempty
        if len(good) != table.num_rows:
            return None
        rejects = []
        for number, actual in sorted(bad):
            line_idx = int(nonempty[number - 1])
            rejects.append(self._count_reject(block, line_idx, nlines, actual, ncols, raw_of))
        pos = (good + block.first_line).astype(np.int64)
        return RawBatch(table.append_column(POS, pa.array(pos)), rejects, raw_of)

    def _count_reject(
        self, block: _Block, line_idx: int, nlines: int, actual: int, ncols: int, raw_of: Callable[[Sequence[int]], list[bytes]]
    ) -> Reject:
        position = block.first_line + line_idx
        raw = raw_of([position])[0]
        unterminated = block.last and line_idx == nlines - 1 and not block.data.endswith(b"\n")
        if unterminated and actual < ncols:
            return Reject(self.file, position, "truncated", None,
                          f"last line is cut off: {actual} of {ncols} fields and no line end", raw)
        return Reject(self.file, position, "column_count", None, f"{actual} fields, expected {ncols}", raw)

    # Line by line: exact for anything the fast path refuses.
    def _slow(self, block: _Block) -> RawBatch:
        ncols = len(self.names)
        keep_idx = [self.names.index(k) for k in self.keep]
        cols: list[list[str | None]] = [[] for _ in self.keep]
        pos: list[int] = []
        rejects: list[Reject] = []
        lines = block.data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        joined: dict[int, tuple[int, int]] = {}  # line index -> the first and last line of its record
        for i, raw_line in enumerate(lines):
            raw = raw_line.rstrip(b"\r")
            if not raw:
                continue
            position = block.first_line + i
            try:
                text = decode_text(raw, self.encoding)
            except UnicodeDecodeError as exc:
                rejects.append(Reject(self.file, position, "undecodable", None,
                                      f"bytes {exc.start}-{exc.end} are not valid {encoding_name(self.encoding)}: "
                                      f"{exc.reason}", raw))
                continue
            text = text.removeprefix("\ufeff")
            try:
                fields = split_fields(text, self.dialect)
            except csv.Error as exc:
                rejects.append(Reject(self.file, position, "column_count", None, f"unparseable line: {exc}", raw))
                continue
            unterminated = block.last and i == len(lines) - 1 and not block.data.endswith(b"\n")
            if (span := joined.get(i)) is not None:  # the rest of a record whose quoted value holds a line break
                opened, closed = (block.first_line + k for k in span)
                rejects.append(Reject(self.file, position, "column_count", None,
                                      f"continues line {opened}: the quoted value opened there runs on to this line "
                                      f"(a value may not hold a line break); lines {opened}-{closed} are one record, "
                                      "refused: join them to send it again", raw))
                continue
            if self.dialect.quote and self.dialect.quote in text and _open_quote(text, self.dialect):
                if unterminated:
                    rejects.append(Reject(self.file, position, "truncated", None,
                                          "last line is cut off inside a quoted value", raw))
                    continue
                end = self._closes_at(lines, i, text, ncols)
                if end is None:
                    rejects.append(Reject(self.file, position, "column_count", None,
                                          "a quoted value runs past the line end (a value may not hold a line "
                                          "break)", raw))
                    continue
                for k in range(i + 1, end + 1):
                    joined[k] = (i, end)
                rejects.append(Reject(self.file, position, "column_count", None,
                                      f"a quoted value runs past the line end and closes on line "
                                      f"{block.first_line + end} (a value may not hold a line break); lines "
                                      f"{position}-{block.first_line + end} are one record, refused: join them to "
                                      "send it again", raw))
                continue
            if len(fields) != ncols:
                if unterminated and len(fields) < ncols:
                    rejects.append(Reject(self.file, position, "truncated", None,
                                          f"last line is cut off: {len(fields)} of {ncols} fields and no line end", raw))
                else:
                    rejects.append(Reject(self.file, position, "column_count", None,
                                          f"{len(fields)} fields, expected {ncols}", raw))
                continue
            if '\x00' in text:
                rejects.append(Reject(self.file, position, "undecodable", None, "NUL byte in a text line", raw))
                continue
            for c, k in zip(cols, keep_idx, strict=True):
                v = fields[k]
                c.append(v if v != "" else None)
            pos.append(position)
        arrays = [pa.array(c, type=pa.string()) for c in cols]
        table = pa.table([*arrays, pa.array(pos, type=pa.int64())], names=[*self.keep, POS])
        return RawBatch(table, rejects, _RawLines(block.data, block.first_line))


    def _closes_at(self, lines: list[bytes], opened: int, text: str, ncols: int) -> int | None:
        """The index of the line where the quoted value left open at the end of line ``opened`` closes, when the
        lines up to it read together as one record of the layout (a value holding a line break, as a spreadsheet
        writes it); None when they do not, or a line between is a record of its own (the quote was a stray one,
        never closed)."""
        combined = text
        for k in range(opened + 1, min(len(lines), opened + 1 + MAX_JOINED_LINES)):
            try:
                t = decode_text(lines[k].rstrip(b"\r"), self.encoding)
            except UnicodeDecodeError:
                return None
            try:
                if t and not _open_quote(t, self.dialect) and len(split_fields(t, self.dialect)) == ncols:
                    return None
                combined += "\n" + t
                if not _open_quote(combined, self.dialect):
                    return k if len(split_fields(combined, self.dialect)) == ncols else None
            except csv.Error:
                return None
        return None


MAX_JOINED_LINES = 50  # lines looked ahead for the end of a quoted value holding line breaks


def _gb18030(raw: bytes) -> str | None:
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return None


def _decode_lenient(raw: bytes, encoding: str) -> str:
    if encoding != AUTO:
        return raw.decode(encoding, errors="replace")
    text = decode_line(raw)
    return text if text is not None else raw.decode("utf-8", errors="replace")


_ESCAPED = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, kept by surrogateescape
# the rest of a line that is valid UTF-8 and not ASCII: no escaped byte, at least one non-ASCII character (searched
# for after a line feed, which the regex engine finds fast; possessive, so a line is looked at once)
_UTF8_REST = "[\x00-\x09\x0b-\x7f]*+[^\x00-\x7f\udc80-\udcff][^\n\udc80-\udcff]*+(?=\n|\\Z)"
_UTF8_FIRST = re.compile(_UTF8_REST)
_UTF8_NEXT = re.compile("\n" + _UTF8_REST)


def _utf8_lines(escaped: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each line of ``escaped`` (text decoded with surrogateescape) that is valid UTF-8 and
    not ASCII."""
    first = _UTF8_FIRST.match(escaped)
    if first is not None:
        yield 0, first.group()
    at = 0
    while (found := _UTF8_NEXT.search(escaped, at)) is not None:
        yield found.start() + 1, found.group()[1:]
        at = found.end()


def as_utf8(data: bytes) -> bytes | None:
    """A block of whole lines as UTF-8, each line decoded on its own (``decode_line``): the block itself when it
    is all UTF-8; None when some line is neither UTF-8 nor GB18030 (the block is then read line by line, which
    rejects that line alone). Line ends stay where they were (no GB18030 or UTF-8 sequence holds a line feed), so
    line numbers do not move.

    A block that is not all UTF-8 is decoded twice at C speed: as UTF-8 with the bytes that are not kept as lone
    surrogates, and, when every line is GB18030, as GB18030. The lines that differ are put right one by one: in a
    GB18030 file, the few lines that are valid UTF-8; otherwise, the lines holding bytes that are not UTF-8."""
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    escaped = data.decode("utf-8", "surrogateescape")
    try:
        gb = data.decode("gb18030")
    except UnicodeDecodeError:
        gb = None
    if gb is not None:
        lines: list[str] | None = None
        at, line = 0, 0
        for start, text in _utf8_lines(escaped):
            if lines is None:
                lines = gb.split("\n")
            line += escaped.count("\n", at, start)
            at = start
            lines[line] = text
        # a GB18030 block (no line in it valid UTF-8), or one with its UTF-8 lines put back
        return (gb if lines is None else "\n".join(lines)).encode("utf-8")
    pieces: list[str] = []
    at = 0
    while (bad := _ESCAPED.search(escaped, at)) is not None:
        start = escaped.rfind("\n", 0, bad.start()) + 1
        end = escaped.find("\n", bad.start())
        end = len(escaped) if end < 0 else end
        line_text = _gb18030(escaped[start:end].encode("utf-8", "surrogateescape"))
        if line_text is None:
            return None
        pieces += (escaped[at:start], line_text)
        at = end
    pieces.append(escaped[at:])
    return "".join(pieces).encode("utf-8")


def _irregular_quotes(data: bytes, quote: str, delimiter: str) -> bool:
    """Whether some line of ``data`` quotes otherwise than by whole quoted values (a quote opening a value right
    after a delimiter or at the line start, inner quotes doubled, the closing one right before a delimiter or the
    line end). Only such values are read alike by Arrow's parser and the ``csv`` module; anything else is
    read line by line: a line with an odd number of quotes (a value that may go on past the line end), and one
    like ``x"y,"z`` (a quote inside an unquoted value, then a value opened and never closed on its line, which the
    parser would close at the end of the block).

    In a line of whole quoted values, the quotes before a position are odd in number exactly when the position
    is inside a value; so a quote preceded by an even number of quotes on its line opens a value (or is the
    second of a doubled pair) and one preceded by an odd number closes it (or is the first of a pair)."""
    q, d = ord(quote), ord(delimiter)
    if q > 0x7F or d > 0x7F:
        return data.find(quote.encode("utf-8")) >= 0  # a multi-byte quote or delimiter: line by line
    if data.find(q) < 0:
        return False
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(arr == q)
    line_of = np.searchsorted(np.flatnonzero(arr == 10), quotes)
    if (np.bincount(line_of) & 1).any():
        return True
    nth = np.arange(len(quotes)) - np.searchsorted(line_of, line_of, side="left")  # quotes before it on its line
    before = arr[np.maximum(quotes - 1, 0)]
    before[quotes == 0] = 10
    after = arr[np.minimum(quotes + 1, len(arr) - 1)]
    after[quotes == len(arr) - 1] = 10
    opens = (nth & 1) == 0
    bad_open = opens & (before != d) & (before != 10) & (before != q)
    bad_close = ~opens & (after != d) & (after != 10) & (after != 13) & (after != q)
    return bool(bad_open.any() or bad_close.any())


def _open_quote(text: str, dialect: TextDialect) -> bool:
    """Whether ``text`` ends inside a quoted value, read as the ``csv`` module reads it (a quote opens a value
    only at its start, a doubled quote inside stands for one, text after the closing quote is kept)."""
    quote, delimiter = dialect.quote, dialect.delimiter
    start, quoted, closing = True, False, False
    for c in text:
        if quoted:
            if closing:
                closing = False
                if c == quote:  # a doubled quote: still inside
                    continue
                quoted = False
                start = c == delimiter
            elif c == quote:
                closing = True
        elif start and c == quote:
            quoted, start = True, False
        else:
            start = c == delimiter
    return quoted and not closing


def read_delimited(
    path: Path,
    *,
    dialect: TextDialect,
    batch_size: int,
    layout: TextLayout | None = None,
    names: list[str] | None = None,
    keep: list[str] | None = None,
    threads: int = 2,
) -> Iterator[RawBatch]:
    """RawBatches of string columns ``keep`` (default: all columns), in file order."""
    layout = layout or read_layout(path, dialect)
    cols = names or layout.header or [f"c{i}" for i in range(layout.ncols)]
    if not cols:
        return
    parser = BlockParser(str(path), cols, keep if keep is not None else cols, dialect, layout.encoding)
    blocks = iter_blocks(path, offset=layout.data_offset, first_line=layout.first_line,
                         block_bytes=block_bytes_for(batch_size, layout.avg_line))
    if threads <= 1:
        for b in blocks:
            yield parser(b)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fairtel-csv") as pool:
        pending: list[Future[RawBatch]] = []
        for b in blocks:
            pending.append(pool.submit(parser, b))
            if len(pending) >= threads:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
