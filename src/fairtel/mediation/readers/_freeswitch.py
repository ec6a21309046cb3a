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
    decode,
    head_lines,
    iter_lines,
    local_to_rfc3339,
    looks_like_time,
    split_csv,
)
from fairtel.mediation.readers._switch_text import timezone as tz_for

# conf/autoload_configs/cdr_csv.conf.xml, template "example" (the default).
DEFAULT_COLUMNS: tuple[str, ...] = (
    "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
    "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
    "write_codec",
)
REQUIRED = ("caller_id_number", "destination_number", "start_stamp", "billsec", "uuid")
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
                text = decode(line.raw)
                if text is None:
                    builder.reject(make_reject(file, line.number, "undecodable", "neither UTF-8 nor GB18030", line.raw))
                else:
                    fields = split_csv(text)
                    if first and _is_header(fields):
                        columns = _header_columns(fields)  # a header line names the template's variables
                        first = False
                        continue
                    needed = max(columns.index(c) for c in REQUIRED if c in columns) + 1
                    if len(fields) < needed:
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
        first: tuple[int, bytes] | None = None
        for line in lines:
            if line.raw.strip():
                first = (line.number, line.raw)
                break
        if first is None:
            return
        if _whole_object(first[1]):
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

    def _read_lines(self, file: str, first: tuple[int, bytes], rest: Iterator[Any],
                    builder: BatchBuilder) -> Iterator[RawBatch]:
        """One document per line (JSON Lines)."""
        self._parse_line(builder, file, *first)
        for line in rest:
            if builder.full:
                yield builder.flush()
            if line.too_long:
                builder.reject(make_reject(file, line.number, "line_too_long", "line longer than the limit", line.raw))
            elif line.raw.strip():
                self._parse_line(builder, file, line.number, line.raw)
        if len(builder):
            yield builder.flush()

    def _parse_line(self, builder: BatchBuilder, file: str, number: int, raw: bytes) -> None:
        text = decode(raw)
        if text is None:
            builder.reject(make_reject(file, number, "undecodable", "neither UTF-8 nor GB18030", raw))
            return
        try:
            doc = json.loads(text)
        except ValueError as exc:
            builder.reject(make_reject(file, number, "undecodable", f"not JSON: {exc}", raw))
            return
        self._add(builder, file, number, raw, doc)

    def _read_documents(self, path: Path, file: str, builder: BatchBuilder) -> Iterator[RawBatch]:
        """Pretty-printed documents, one per file or concatenated: positions are the line of each '{'."""
        data = path.read_bytes()
        if data.startswith(BOM):
            data = data[len(BOM):]
        text = decode(data)
        if text is None:
            builder.reject(make_reject(file, 1, "undecodable", "neither UTF-8 nor GB18030", data))
            yield builder.flush()
            return
        decoder = json.JSONDecoder()
        at = 0
        while True:
            while at < len(text) and text[at] in " \t\r\n":
                at += 1
            if at >= len(text):
                break
            line_no = text.count("\n", 0, at) + 1
            try:
                doc, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError as exc:
                # a document still open at the end of the file was cut short; anything else is not JSON
                rest = text[at:]
                cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string") or \
                    rest.count("{") > rest.count("}")
                builder.reject(make_reject(file, line_no, "truncated" if cut else "undecodable",
                                           f"not JSON from here: {exc.msg}", rest.encode("utf-8")))
                break
            if isinstance(doc, list):  # an array of call records
                for item in doc:
                    self._add(builder, file, line_no, json.dumps(item).encode("utf-8"), item)
            else:
                self._add(builder, file, line_no, text[at:end].encode("utf-8"), doc)
            at = end
            if builder.full:
                yield builder.flush()
        if len(builder):
            yield builder.flush()


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
