"""Text helpers for the switch CSV readers (Asterisk, FreeSWITCH): bounded line reading, UTF-8 or GB18030
decoding, CSV splitting, and switch-local times turned into RFC 3339 with an offset.

Switch files are small and irregular (a layout chosen per line, a header that may or may not be there), so
they are read line by line, each line keeping its exact bytes for a reject."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fairtel.core.time import DEMO_TIMEZONE, zone
from fairtel.mediation.readers._delimited import TextDialect, _open_quote, decode_line, is_binary

BOM = b"\xef\xbb\xbf"
MAX_LINE = 1 << 20  # a longer line is not a CDR: it is rejected (line_too_long) and skipped to its end

_LOCAL = re.compile(
    r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$"
)
_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    raw: bytes  # without the line end
    too_long: bool = False
    ended: bool = True  # False for a last line without a line end (a file cut short, or just not terminated)


def iter_lines(path: Path, *, max_line: int = MAX_LINE) -> Iterator[Line]:
    """Physical lines with bounded memory: a line longer than ``max_line`` comes back cut, flagged too_long."""
    with path.open("rb") as f:
        number = 0
        while True:
            line = f.readline(max_line + 1)
            if not line:
                return
            number += 1
            if len(line) > max_line and not line.endswith(b"\n"):
                while True:  # drain the rest of the oversized line
                    more = f.readline(1 << 20)
                    if not more or more.endswith(b"\n"):
                        break
                yield Line(number, line[:max_line], True)
                continue
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM):]
            yield Line(number, line.rstrip(b"\r\n"), ended=line.endswith(b"\n"))


def decode(raw: bytes) -> str | None:
    """One line: UTF-8, else GB18030 (a superset of GBK, what Chinese switches write); None when neither fits.
    Decided line by line, as every text reader does (``_delimited.decode_line``)."""
    return decode_line(raw)


def text_line(raw: bytes) -> tuple[str | None, str]:
    """A line's text, or None and why it is undecodable: neither UTF-8 nor GB18030, or a NUL byte (a damaged
    line of a text file, refused alone)."""
    text = decode(raw)
    if text is None:
        return None, "neither UTF-8 nor GB18030"
    if "\x00" in text:
        return None, "NUL byte in a text line"
    return text, ""


def split_csv(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]), [])


_CSV = TextDialect(delimiter=",", quote='"')


def open_quote(text: str) -> bool:
    """Whether ``text`` ends inside a quoted value: a value that runs past the line end, or a line cut short.
    ``split_csv`` reads such a line without complaint, the open value running to the end of the text."""
    return '"' in text and _open_quote(text, _CSV)


def cut_short(line: Line, text: str, fields: Sequence[str], columns: Sequence[str], used: Collection[str], *,
              least: int | None = None) -> str | None:
    """Why the last line of a file, which has no line end, is taken for a record cut short (``truncated``); None
    for a line that shows it is whole, or one that has its line end.

    Switches end every line they write, so a last line without one is most often a file copied while the switch
    was still writing it. Its values are not trusted unless they show they are whole: no quote left open, every
    column of its layout there (``columns``; ``least`` when fewer are a whole line too), and a last value that
    closes its quote unless it is one nothing is read from (``used``). Anything else is refused, keeping its bytes:
    a record id or a duration cut short would otherwise be charged, and charged again as a different record
    when the whole file comes."""
    if line.ended:
        return None
    if open_quote(text):
        return "last line is cut off inside a quoted value"
    need = len(columns) if least is None else least
    if len(fields) < need:
        whole = f"{len(columns)}" if least is None else f"at least {least}"
        return f"last line is cut off: {len(fields)} of {whole} fields and no line end"
    last = columns[len(fields) - 1] if len(fields) <= len(columns) else None
    if last in used and not text.rstrip(" \t").endswith('"'):
        return (f"last line has no line end and its last value ({last}) is not quoted: it may be cut off, so the "
                "line is not read")
    return None


def head_lines(head: bytes, limit: int = 5) -> list[list[str]]:
    """The first complete, non-empty lines of a file head, split as CSV (for sniffing)."""
    if head.startswith(BOM):
        head = head[len(BOM):]
    if is_binary(head):
        return []  # binary: not a switch CSV
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last piece may be cut
    out: list[list[str]] = []
    for raw in lines:
        text = decode(raw.rstrip(b"\r"))
        if text is None:
            return []  # binary: not a switch CSV
        if not text.strip() or "\x00" in text:  # a damaged line is rejected when read; the others tell the format
            continue
        out.append(split_csv(text))
        if len(out) >= limit:
            break
    return out


def timezone(name: str | None) -> ZoneInfo:
    return zone(name or DEMO_TIMEZONE)


def local_to_rfc3339(text: str | None, tz: ZoneInfo) -> str | None:
    """``2023-07-26 01:51:32`` or ``2020/2/10 22:41`` read in ``tz`` -> ``2023-07-26T01:51:32+08:00``.

    Empty gives None. A value that already carries an offset is kept. Anything else is passed through
    unchanged, so that validation rejects it with its own reason (bad_timestamp) and the field name."""
    if text is None:
        return None
    s = text.strip()
    if not s:
        return None
    m = _LOCAL.match(s)
    if m is None:
        return s
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = m.group(7)
    micro = int(frac[:6].ljust(6, "0")) if frac else 0
    try:
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return s
    return value.isoformat(timespec="microseconds" if micro else "seconds")


def looks_like_time(text: str) -> bool:
    return bool(_LOCAL.match(text) or _WITH_OFFSET.match(text.strip()))
