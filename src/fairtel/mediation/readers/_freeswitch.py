"""FreeSWITCH call records: ``mod_cdr_csv`` (the default template, or any template with a header line) and
``mod_json_cdr`` (one JSON document per file, several concatenated, or one per line).

CSV stamps are the switch's local wall clock without an offset (``2020-02-10 22:41:05``, or ``2020/2/10 22:41``
after a spreadsheet re-saved the file); they are read in ``timezone`` (default: the operator's,
Asia/Shanghai). JSON records carry epochs, which need no zone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fairtel.core.errors import ConfigError
from fairtel.mediation.readers._base import RawBatch
from fairtel.mediation.readers._rows import BatchBuilder, make_reject
from fairtel.mediation.readers._switch_text import (
    BOM,
    Line,
    cut_short,
    decode,
    head_lines,
    iter_lines,
    local_to_rfc3339,
    looks_like_time,
    open_quote,
    split_csv,
    text_line,
)
from fairtel.mediation.readers._switch_text import timezone as tz_for

# conf/autoload_configs/cdr_csv.conf.xml, template "example" (the default).
DEFAULT_COLUMNS: tuple[str, ...] = (
    "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
    "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
    "write_codec",
)
REQUIRED = ("caller_id_number", "destination_number", "start_stamp", "billsec", "uuid")
# the variables a record is made of (``map_csv_record``): a last line cut inside one of them is not read
USED = frozenset({*REQUIRED, "answer_stamp"})
OUTPUT = ("record_id", "msisdn", "kind", "direction", "started_at", "duration_s", "peer")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CAUSE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def map_csv_record(row: Mapping[str, str], tz: ZoneInfo) -> dict[str, object]:
    """The A party is the served subscriber (direction out); billsec is already 0 for unanswered calls."""
    answer = row.get("answer_stamp", "").strip()
    return {
        "record_id": row.get("uuid", "").strip(),
        "msisdn": row.get("caller_id_number", "").strip(),
        "kind": "voice",
        "direction": "out",
        "started_at": local_to_rfc3339(answer or row.get("start_stamp", ""), tz),
        "duration_s": row.get("billsec", "").strip(),
        "peer": row.get("destination_number", "").strip(),
    }


def _is_header(fields: Sequence[str]) -> bool:
    names = {f.strip().strip("${}") for f in fields}
    return "uuid" in names and "caller_id_number" in names


def _header_columns(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(f.strip().strip("${}") for f in fields)


def _looks_like_default_row(fields: Sequence[str]) -> bool:
    return (
        len(fields) >= 11
        and bool(_UUID.match(fields[10].strip()))
        and looks_like_time(fields[4])
        and fields[8].strip().isdigit()
        and bool(_CAUSE.match(fields[9].strip()))
    )


class FreeswitchCsvReader:
    name: ClassVar[str] = "freeswitch-csv"

    def __init__(self, *, timezone: str | None = None, columns: Sequence[str] | None = None) -> None:
        """``timezone``: the zone of the switch's clock (default Asia/Shanghai). ``columns``: the variables of
        a template other than the default, in order (a header line in the file does the same)."""
        self.tz = tz_for(timezone)
        self.columns = tuple(columns) if columns else None
        if self.columns is not None and not any(c in self.columns for c in REQUIRED):
            raise ConfigError(f"a FreeSWITCH template's columns must name the CDR's variables ({', '.join(REQUIRED)}); "
                              f"these name none of them: {', '.join(self.columns)}")

    def sniff(self, head: bytes, path: Path) -> bool:
        rows = head_lines(head, limit=3)
        if not rows:
            return False
        if _is_header(rows[0]):
            return True
        return 2 * sum(_looks_like_default_row(r) for r in rows) > len(rows)  # most lines, one may be damaged

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        builder = BatchBuilder(OUTPUT, batch_size=batch_size)
        file = str(path)
        columns = self.columns or DEFAULT_COLUMNS
        first = True
        for line in iter_lines(path):
            if line.too_long:
                builder.reject(make_reject(file, line.number, "line_too_long", "line longer than the limit", line.raw))
            elif line.raw.strip():
                text, why = text_line(line.raw)
                if text is None:
                    builder.reject(make_reject(file, line.number, "undecodable", why, line.raw))
                else:
                    fields = split_csv(text)
                    if first and _is_header(fields):
                        columns = _header_columns(fields)  # a header line names the template's variables
                        first = False
                        continue
                    needed = max(columns.index(c) for c in REQUIRED if c in columns) + 1
                    cut = cut_short(line, text, fields, columns, USED)
                    if cut is not None:
                        builder.reject(make_reject(file, line.number, "truncated", cut, line.raw))
                    elif open_quote(text):
                        builder.reject(make_reject(file, line.number, "column_count", "a quoted value runs past the "
                                                   "line end (a value may not hold a line break)", line.raw))
                    elif len(fields) < needed:
                        builder.reject(make_reject(file, line.number, "column_count",
                                                   f"{len(fields)} columns, expected at least {needed}", line.raw))
                    else:
                        row = dict(zip(columns, fields, strict=False))
                        builder.add(line.number, line.raw, map_csv_record(row, self.tz))
                first = False
            if builder.full:
                yield builder.flush()
        if len(builder):
            yield builder.flush()


# --- mod_json_cdr ------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Variables are URL-encoded when mod_json_cdr runs with encode-values (the default)."""
    if value is None:
        return ""
    s = str(value)
    return unquote(s) if "%" in s else s


def _caller_profile(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    flow = doc.get("callflow")
    if isinstance(flow, list):
        flow = flow[0] if flow else None
    if isinstance(flow, Mapping):
        profile = flow.get("caller_profile")
        if isinstance(profile, Mapping):
            return profile
    return {}


def _epoch(value: str) -> str | None:
    s = value.strip()
    if not s.isdigit() or int(s) == 0:
        return None
    return datetime.fromtimestamp(int(s), UTC).isoformat(timespec="seconds")


def map_json_record(doc: Mapping[str, Any]) -> dict[str, object]:
    """``variables.uuid`` is the record id; numbers come from the variables when set, else from the first
    caller profile of the call flow, else from the SIP users; the start is the answer epoch when answered."""
    raw_vars = doc.get("variables")
    variables: Mapping[str, Any] = raw_vars if isinstance(raw_vars, Mapping) else {}
    profile = _caller_profile(doc)

    def pick(*candidates: tuple[Mapping[str, Any], str]) -> str:
        for source, key in candidates:
            value = _text(source.get(key)).strip()
            if value:
                return value
        return ""

    started = _epoch(_text(variables.get("answer_epoch"))) or _epoch(_text(variables.get("start_epoch")))
    if started is None:  # no epochs: the local stamps are all there is; they carry no zone, keep as text
        started = pick((variables, "answer_stamp"), (variables, "start_stamp")) or None
    return {
        "record_id": pick((variables, "uuid"), (profile, "uuid"), (variables, "call_uuid")),
        "msisdn": pick((variables, "caller_id_number"), (profile, "caller_id_number"), (variables, "sip_from_user")),
        "kind": "voice",
        "direction": "out",
        "started_at": started,
        "duration_s": pick((variables, "billsec")),
        "peer": pick((variables, "destination_number"), (profile, "destination_number"), (variables, "sip_req_user")),
    }


def _json_start(head: bytes) -> bytes:
    if head.startswith(BOM):
        head = head[len(BOM):]
    return head.lstrip()


class FreeswitchJsonReader:
    name: ClassVar[str] = "freeswitch-json"

    def __init__(self, *, timezone: str | None = None) -> None:
        self.tz = tz_for(timezone)  # used only for records without epochs

    def sniff(self, head: bytes, path: Path) -> bool:
        body = _json_start(head)
        if not body.startswith(b"{"):
            return False
        window = body[:65536]
        return b'"variables"' in window and (
            b'"callflow"' in window or b'"channel_data"' in window or b'"core-uuid"' in window
        )

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        builder = BatchBuilder(OUTPUT, batch_size=batch_size)
        file = str(path)
        lines = iter_lines(path)
        first: Line | None = None
        for line in lines:
            if line.raw.strip():
                first = line
                break
        if first is None:
            return
        if _whole_object(first.raw):
            yield from self._read_lines(file, first, lines, builder)
        else:
            yield from self._read_documents(path, file, builder)

    def _add(self, builder: BatchBuilder, file: str, pos: int, raw: bytes, doc: object) -> None:
        if not isinstance(doc, dict):
            builder.reject(make_reject(file, pos, "bad_value", "a call record is a JSON object", raw))
            return
        record = map_json_record(doc)
        if record["started_at"] and not str(record["started_at"]).endswith(("Z", "+00:00")):
            record["started_at"] = local_to_rfc3339(str(record["started_at"]), self.tz)
        builder.add(pos, raw, record)

    def _read_lines(self, file: str, first: Line, rest: Iterator[Line], builder: BatchBuilder) -> Iterator[RawBatch]:
        """One document per line (JSON Lines)."""
        self._parse_line(builder, file, first)
        for line in rest:
            if builder.full:
                yield builder.flush()
            if line.too_long:
                builder.reject(make_reject(file, line.number, "line_too_long", "line longer than the limit", line.raw))
            elif line.raw.strip():
                self._parse_line(builder, file, line)
        if len(builder):
            yield builder.flush()

    def _parse_line(self, builder: BatchBuilder, file: str, line: Line) -> None:
        number, raw = line.number, line.raw
        text, why = text_line(raw)
        doc: object = None
        if text is not None:
            try:
                doc = json.loads(text)
            except ValueError as exc:
                why = f"not JSON: {exc}"
        if why:
            if not line.ended:  # the file ends inside this line: a record cut short, not a damaged one
                builder.reject(make_reject(file, number, "truncated", f"last line is cut off: {why}", raw))
            else:
                builder.reject(make_reject(file, number, "undecodable", why, raw))
            return
        self._add(builder, file, number, raw, doc)

    def _read_documents(self, path: Path, file: str, builder: BatchBuilder) -> Iterator[RawBatch]:
        """Pretty-printed documents, one per file or concatenated, or arrays of them: positions are the line of
        each document's (or array item's) '{', and each keeps its own original bytes. A damaged document is
        rejected alone (see ``_documents``); bytes that are neither UTF-8 nor GB18030 spoil only the documents
        holding them."""
        data = path.read_bytes()
        if data.startswith(BOM):
            data = data[len(BOM):]
        text, spans = _decoded(data)
        lines = _LineCounter(text)
        for start, end, doc, error in _documents(text):
            line_no = lines.at(start)
            raw = spans.bytes(start, end)
            if error is not None:
                # cut short: the last stretch of the file, still open where the file ends
                stretch = text[start:end]
                cut = not text[end:].strip(_WS) and (
                    error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
                    or stretch.count("{") > stretch.count("}") or stretch.count("[") > stretch.count("]"))
                what = "a document cut short at the end of the file" if cut else "a damaged document"
                builder.reject(make_reject(file, line_no, "truncated" if cut else "undecodable",
                                           f"{what}: {error.msg} at line {error.lineno} column {error.colno}", raw))
            elif spans.undecodable and _UNDECODED.search(text, start, end):
                builder.reject(make_reject(file, line_no, "undecodable", "neither UTF-8 nor GB18030", raw))
            else:
                self._add(builder, file, line_no, raw, doc)
            if builder.full:
                yield builder.flush()
        if len(builder):
            yield builder.flush()


_WS = " \t\r\n\x0b\x0c"  # what separates documents: the white space a blank line may hold
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes kept by surrogateescape: neither UTF-8 nor GB18030


def _skip(text: str, at: int) -> int:
    n = len(text)
    while at < n and text[at] in _WS:
        at += 1
    return at


def _documents(text: str) -> Iterator[tuple[int, int, Any, json.JSONDecodeError | None]]:
    """``(start, end, document, None)`` for each JSON value of a concatenation, the items of a top-level array
    one by one; ``(start, end, None, error)`` for a damaged stretch. A damaged stretch runs to the next line that
    opens with '{' (where mod_json_cdr starts each document; the nested objects of a pretty-printed document are
    indented) or to the end of the text, so the documents after it are still read."""
    decoder = json.JSONDecoder()
    n = len(text)
    at = 0
    while (at := _skip(text, at)) < n:
        start = at
        try:
            if text[at] != "[":
                doc, at = decoder.raw_decode(text, at)
                yield start, at, doc, None
                continue
            opened, items = at, 0
            at = _skip(text, at + 1)  # an array of call records
            while at < n and text[at] != "]":
                start = at
                item, at = decoder.raw_decode(text, at)
                yield start, at, item, None
                items += 1
                at = _skip(text, at)
                if at < n and text[at] == ",":
                    at = _skip(text, at + 1)
                elif at >= n or text[at] != "]":
                    start = at
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            if at >= n and not items:  # cut before its first record: the array itself is the reject
                start = opened
                raise json.JSONDecodeError("Unterminated array", text, at)
            at += 1
        except json.JSONDecodeError as exc:
            nxt = text.find("\n{", start)
            end = n if nxt < 0 else nxt + 1
            kept = len(text[start:end].rstrip(_WS))
            if kept:  # (an array cut right after an item loses no record)
                yield start, start + kept, None, exc
            at = end


class _LineCounter:
    """1-based line numbers of increasing offsets into a text, counted once."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


class _Spans:
    """The original bytes of increasing stretches of a text decoded line by line (``_decoded``), found by
    encoding the text between them once, in order, in the encoding of the run of lines they fall in. Exact when
    every GB18030 line encodes back to its own bytes (checked); otherwise a stretch is its text encoded as
    UTF-8."""

    def __init__(self, data: bytes, text: str, runs: list[tuple[int, int, str]], *, exact: bool,
                 undecodable: bool) -> None:
        # runs: (offset in the text, offset in the data, encoding) where lines of another encoding begin
        self.data, self.text, self.runs, self.exact = data, text, runs, exact
        self.undecodable = undecodable  # some line is neither UTF-8 nor GB18030 (kept as lone surrogates)
        self.char, self.byte, self.run = 0, 0, 0

    def _offset(self, pos: int) -> int:
        while self.run + 1 < len(self.runs) and self.runs[self.run + 1][0] <= pos:
            self.run += 1
            self.char, self.byte, _ = self.runs[self.run]
        encoding = self.runs[self.run][2]
        self.byte += len(self.text[self.char:pos].encode(encoding, _ERRORS[encoding]))
        self.char = pos
        return self.byte

    def bytes(self, start: int, end: int) -> bytes:
        if not self.exact:
            return self.text[start:end].encode("utf-8", "surrogateescape")
        return self.data[self._offset(start):self._offset(end)]


_ERRORS = {"utf-8": "surrogateescape", "gb18030": "strict"}


def _decoded(data: bytes) -> tuple[str, _Spans]:
    """The file's text, each line decoded on its own as every text reader does (``_switch_text.decode``): UTF-8
    when valid, else GB18030, else UTF-8 with the bytes that are neither kept as lone surrogates
    (``surrogateescape``), so that only the documents holding them are refused. A file is never decoded as a
    whole in one encoding: a document in GBK does not turn the UTF-8 documents beside it into garbled text, nor
    the other way round."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, _Spans(data, text, [(0, 0, "utf-8")], exact=True, undecodable=False)
    pieces: list[str] = []
    runs: list[tuple[int, int, str]] = [(0, 0, "utf-8")]
    char = byte = 0
    exact, undecodable = True, False
    for raw in data.split(b"\n"):
        encoding: str | None = None  # ASCII reads the same in either encoding: it joins the run it is in
        if raw.isascii():
            piece = raw.decode("ascii")
        else:
            try:
                piece, encoding = raw.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                try:
                    piece, encoding = raw.decode("gb18030"), "gb18030"
                    exact = exact and piece.encode("gb18030") == raw
                except UnicodeDecodeError:
                    piece, encoding, undecodable = raw.decode("utf-8", "surrogateescape"), "utf-8", True
        if encoding is not None and encoding != runs[-1][2]:
            runs.append((char, byte, encoding))
        pieces.append(piece)
        char += len(piece) + 1
        byte += len(raw) + 1
    text = "\n".join(pieces)
    return text, _Spans(data, text, runs, exact=exact, undecodable=undecodable)


def _whole_object(raw: bytes) -> bool:
    text = decode(raw)
    if text is None:
        return False
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        return False
    try:
        return isinstance(json.loads(s), dict)
    except ValueError:
        return False
