"""Asterisk ``Master.csv``: the stock ``cdr_csv`` column order and the ``cdr_custom`` order of the stock
template, told apart per line by where the disposition sits (and, failing that, by the column count).

Times are the switch's local wall clock without an offset; they are read in ``timezone`` (default: the
operator's, Asia/Shanghai; pass ``UTC`` for a switch with ``usegmtime=yes``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from fairtel.mediation.readers._base import RawBatch
from fairtel.mediation.readers._rows import BatchBuilder, make_reject
from fairtel.mediation.readers._switch_text import (
    cut_short,
    head_lines,
    iter_lines,
    local_to_rfc3339,
    looks_like_time,
    open_quote,
    split_csv,
    text_line,
)
from fairtel.mediation.readers._switch_text import timezone as tz_for

# cdr_csv.c: uniqueid and userfield are written when loguniqueid / loguserfield are on.
STOCK_COLUMNS: tuple[str, ...] = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
    "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
)
# cdr_custom.conf's stock template (what the lab sample uses).
CUSTOM_COLUMNS: tuple[str, ...] = (
    "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer", "end",
    "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "sequence",
)
DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
MIN_COLUMNS = 16  # cdr_csv without uniqueid and userfield
# the columns a record is made of (``map_record``): a last line cut inside one of them is not read
USED = frozenset({"uniqueid", "sequence", "channel", "start", "answer", "billsec", "disposition", "src", "dst"})
OUTPUT = ("record_id", "msisdn", "kind", "direction", "started_at", "duration_s", "peer")


def _layout(fields: Sequence[str]) -> tuple[str, ...] | None:
    """Pick the column order of one line, or None when its column count fits neither."""
    n = len(fields)
    stock_ok = 16 <= n <= len(STOCK_COLUMNS)
    custom_ok = 16 <= n <= len(CUSTOM_COLUMNS)
    if custom_ok and fields[13].strip().upper() in DISPOSITIONS:
        return CUSTOM_COLUMNS
    if stock_ok and fields[14].strip().upper() in DISPOSITIONS:
        return STOCK_COLUMNS
    if n == len(CUSTOM_COLUMNS):
        return CUSTOM_COLUMNS
    if stock_ok:
        return STOCK_COLUMNS
    return None


def _looks_like_cdr(fields: Sequence[str]) -> bool:
    layout = _layout(fields)
    if layout is None:
        return False
    at = {name: i for i, name in enumerate(layout)}
    return fields[at["disposition"]].strip().upper() in DISPOSITIONS and looks_like_time(fields[at["start"]])


def map_record(row: dict[str, str], tz: ZoneInfo) -> dict[str, object]:
    """One Asterisk CDR (column name -> text) as canonical fields. Calls that were not answered keep their
    record with duration 0, so that rating prices them at 0 and nothing disappears silently."""
    uniqueid = row.get("uniqueid", "").strip()
    sequence = row.get("sequence", "").strip()
    if uniqueid:
        record_id = f"{uniqueid}-{sequence}" if sequence else uniqueid
    else:  # loguniqueid off: the channel name and start time identify the CDR as well as anything
        record_id = f"{row.get('channel', '').strip()}@{row.get('start', '').strip()}"
    disposition = row.get("disposition", "").strip().upper()
    billsec = row.get("billsec", "").strip()
    duration = "0" if disposition in DISPOSITIONS and disposition != "ANSWERED" else billsec
    answer = row.get("answer", "").strip()
    return {
        "record_id": record_id,
        "msisdn": row.get("src", "").strip(),
        "kind": "voice",
        "direction": "out",
        "started_at": local_to_rfc3339(answer or row.get("start", ""), tz),
        "duration_s": duration,
        "peer": row.get("dst", "").strip(),
    }


class AsteriskCsvReader:
    name: ClassVar[str] = "asterisk-csv"

    def __init__(self, *, timezone: str | None = None, columns: Sequence[str] | None = None) -> None:
        """``timezone``: the zone of the switch's clock (default Asia/Shanghai). ``columns``: the order of a
        ``cdr_custom`` template other than the stock one (names as in ``CUSTOM_COLUMNS``)."""
        self.tz = tz_for(timezone)
        self.columns = tuple(columns) if columns else None

    def sniff(self, head: bytes, path: Path) -> bool:
        rows = head_lines(head, limit=3)
        return bool(rows) and 2 * sum(_looks_like_cdr(r) for r in rows) > len(rows)  # most lines, one may be damaged

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        builder = BatchBuilder(OUTPUT, batch_size=batch_size)
        file = str(path)
        for line in iter_lines(path):
            if line.too_long:
                builder.reject(make_reject(file, line.number, "line_too_long", "line longer than the limit", line.raw))
            elif line.raw.strip():
                text, why = text_line(line.raw)
                if text is None:
                    builder.reject(make_reject(file, line.number, "undecodable", why, line.raw))
                else:
                    fields = split_csv(text)
                    layout = self.columns if self.columns else _layout(fields)
                    cut = cut_short(line, text, fields, layout or CUSTOM_COLUMNS, USED,
                                    least=MIN_COLUMNS if layout is None or layout is STOCK_COLUMNS else None)
                    if cut is not None:
                        builder.reject(make_reject(file, line.number, "truncated", cut, line.raw))
                    elif open_quote(text):
                        builder.reject(make_reject(file, line.number, "column_count", "a quoted value runs past the "
                                                   "line end (a value may not hold a line break)", line.raw))
                    elif layout is None or (self.columns is not None and len(fields) != len(self.columns)):
                        expected = str(len(self.columns)) if self.columns else "16 to 19"
                        builder.reject(make_reject(file, line.number, "column_count",
                                                   f"{len(fields)} columns, expected {expected}", line.raw))
                    else:
                        row = dict(zip(layout, fields, strict=False))
                        builder.add(line.number, line.raw, map_record(row, self.tz))
            if builder.full:
                yield builder.flush()
        if len(builder):
            yield builder.flush()
