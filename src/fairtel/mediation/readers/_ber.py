"""3GPP TS 32.298 BER charging records for data sessions: PGW and SGW records (and the other
``GPRSRecord`` kinds that carry volumes: SGSN PDP, ePDG, TWAG, TDF, IP-Edge), and the 5G CHF record.

Layouts: records concatenated with no file header (what most mediation front ends receive), optionally
padded between records with 0x00 or 0xFF fill; or a TS 32.297 CDR file (file header, then a 5-octet CDR
header before each record). A damaged record is rejected with its byte offset and bytes; the records after
it are still read, as long as the framing can be followed.

One canonical ``data`` record per charging record: bytes summed over its service-data containers
(``listOfServiceData``; ``listOfTrafficVolumes`` when there are none). A record with a
``recordSequenceNumber`` is a part of a longer session: ``session_id`` is ``<kind>:<gateway
address>:<chargingID>``, ``seq`` the sequence number, ``final`` false when the record was closed for a
partial reason (volume or time limit, change of conditions...) and true otherwise.

Decoders: PGW and SGW records go through a lean decoder of the fields fairtel maps (tags from the
3GPP modules pycrate compiles; the tests hold the two to the same answers), about eight times faster than a
full decode, and without loading pycrate's CDR module (3 s, 600 MB). Other kinds, and records in
indefinite-length form, go through pycrate's complete decoder; a PGW/SGW record the lean decoder finds
damaged is rejected as undecodable. The CHF record is read by the lean decoder alone (pycrate does not
ship that module)."""

from __future__ import annotations

import ipaddress
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fairtel.mediation.readers._base import RawBatch
from fairtel.mediation.readers._rows import NATIVE_TYPES, BatchBuilder, make_reject
from fairtel.mediation.readers._tlv import (
    CONTEXT,
    Buffer,
    IndefiniteLength,
    TlvError,
    bcd_timestamp,
    ber_int,
    children,
    fields,
    isdn_address,
    read_head,
    read_tlv,
    tbcd,
)

OUTPUT = ("record_id", "msisdn", "kind", "started_at", "duration_s", "bytes_up", "bytes_down", "imei",
          "session_id", "seq", "final", "imsi", "apn")

# GPRSRecord alternatives (context tags) -> (choice name, short kind used in session ids)
GPRS_RECORDS: dict[int, tuple[str, str]] = {
    20: ("sgsnPDPRecord", "sgsn"), 22: ("sgsnMMRecord", "sgsn-mm"), 23: ("sgsnSMORecord", "sgsn-smo"),
    24: ("sgsnSMTRecord", "sgsn-smt"), 25: ("sgsnMTLCSRecord", "sgsn-mtlcs"), 26: ("sgsnMOLCSRecord", "sgsn-molcs"),
    27: ("sgsnNILCSRecord", "sgsn-nilcs"), 76: ("sgsnMBMSRecord", "sgsn-mbms"), 77: ("ggsnMBMSRecord", "ggsn-mbms"),
    78: ("sGWRecord", "sgw"), 79: ("pGWRecord", "pgw"), 86: ("gwMBMSRecord", "gw-mbms"), 92: ("tDFRecord", "tdf"),
    95: ("iPERecord", "ipe"), 96: ("ePDGRecord", "epdg"), 97: ("tWAGRecord", "twag"),
}
VOLUME_RECORDS = frozenset({"sgsnPDPRecord", "sGWRecord", "pGWRecord", "tDFRecord", "iPERecord", "ePDGRecord",
                            "tWAGRecord"})
CHF_RECORD = 200  # CHFRecord.chargingFunctionRecord

# CauseForRecClosing values that close a part, not the session (TS 32.298 GenericChargingDataTypes).
PARTIAL_CAUSES = frozenset({1, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 59})

# Address fields naming the gateway of the session, by preference, per record kind (pycrate names).
ADDRESS_FIELDS = ("p-GWAddress", "s-GWAddress", "sgsnAddress", "ePDGAddressUsed", "tWAGAddressUsed",
                  "tDFAddress", "iPEdgeAddress", "ggsnAddress")

# Lean decoder tables: context tag -> field, for the fields fairtel maps (TS 32.298 Rel-16, checked
# against pycrate's compiled GPRSChargingDataTypes by the tests).
PGW_TAGS: dict[int, str] = {
    0: "recordType", 3: "servedIMSI", 4: "p-GWAddress", 5: "chargingID", 7: "accessPointNameNI",
    12: "listOfTrafficVolumes", 13: "recordOpeningTime", 14: "duration", 15: "causeForRecClosing",
    17: "recordSequenceNumber", 18: "nodeID", 20: "localSequenceNumber", 22: "servedMSISDN", 29: "servedIMEI",
    34: "listOfServiceData",
}
SGW_TAGS: dict[int, str] = {
    0: "recordType", 3: "servedIMSI", 4: "s-GWAddress", 5: "chargingID", 7: "accessPointNameNI",
    12: "listOfTrafficVolumes", 13: "recordOpeningTime", 14: "duration", 15: "causeForRecClosing",
    17: "recordSequenceNumber", 18: "nodeID", 20: "localSequenceNumber", 22: "servedMSISDN", 29: "servedIMEI",
}
LEAN_TAGS = {79: PGW_TAGS, 78: SGW_TAGS}
SERVICE_DATA_VOLUME_TAGS = (12, 13)  # ChangeOfServiceCondition: datavolumeFBCUplink, datavolumeFBCDownlink
TRAFFIC_VOLUME_TAGS = (3, 4)  # ChangeOfCharCondition: dataVolumeGPRSUplink, dataVolumeGPRSDownlink


class UnsupportedRecord(Exception):
    pass


@dataclass(slots=True)
class Session:
    """What fairtel takes from one charging record, whichever decoder read it."""

    kind: str
    imsi: str = ""
    msisdn: str = ""
    imei: str = ""
    charging_id: int | None = None
    address: str = ""
    opening: str | None = None
    duration: int | None = None
    cause: int | None = None
    seq: int | None = None
    local_seq: int | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    apn: str = ""


def to_record(s: Session) -> dict[str, object]:
    gateway = s.address or "-"
    if s.charging_id is not None:
        session_id: str | None = f"{s.kind}:{gateway}:{s.charging_id}"
        record_id = f"{session_id}:{s.seq if s.seq is not None else 0}"
        partial = s.seq is not None
    else:  # nothing ties it to a session: the node's own sequence number (or opening time) names it
        session_id, partial = None, False
        record_id = f"{s.kind}:{gateway}:L{s.local_seq if s.local_seq is not None else s.opening}"
    return {
        "record_id": record_id,
        "msisdn": s.msisdn or s.imsi,
        "kind": "data",
        "started_at": s.opening,
        "duration_s": s.duration,
        "bytes_up": s.bytes_up,
        "bytes_down": s.bytes_down,
        "imei": s.imei or None,
        "session_id": session_id if partial else None,
        "seq": s.seq if partial else None,
        "final": (s.cause not in PARTIAL_CAUSES) if partial else None,
        "imsi": s.imsi or None,
        "apn": s.apn or None,
    }


# --- lean decoder --------------------------------------------------------------------------------------


CONSTRUCTED = 0x20
CONTEXT_BITS = 0x80  # class bits of a context-specific tag (0b10......)


def _address(data: bytes, first: int, body: int, stop: int) -> str:
    """GSNAddress / IPAddress: a choice under the field's (explicit) tag."""
    if not first & CONSTRUCTED:
        return _ip(data[body:stop], 0)
    for inner_first, tag, b, e in fields(data, body, stop):
        if tag == 4 and inner_first & CONSTRUCTED:  # iPBinV6AddressWithPrefix: SEQUENCE { OCTET STRING, ... }
            for _, _, pb, pe in fields(data, b, e):
                return _ip(data[pb:pe], 1)
        return _ip(data[b:e], tag)
    return ""


def _ip(body: bytes, tag: int) -> str:
    if tag in (2, 3):
        return body.decode("ascii", "replace")
    if len(body) == 4:
        return f"{body[0]}.{body[1]}.{body[2]}.{body[3]}"
    try:
        return str(ipaddress.ip_address(body))
    except ValueError:
        return body.hex()


def _volumes(data: bytes, body: int, stop: int, up_tag: int, down_tag: int) -> tuple[int, int]:
    """Sum two counters over a SEQUENCE OF containers."""
    up = down = 0
    for _, _, cb, ce in fields(data, body, stop):
        for first, tag, b, e in fields(data, cb, ce):
            if first & 0xC0 != CONTEXT_BITS:
                continue
            if tag == up_tag:
                up += int.from_bytes(data[b:e], "big", signed=True)
            elif tag == down_tag:
                down += int.from_bytes(data[b:e], "big", signed=True)
    return up, down


def _record_body(data: bytes) -> tuple[int, int]:
    for _, _, body, stop in fields(data, 0, len(data)):
        return body, stop
    raise TlvError("truncated", "empty record")


def lean_gprs(data: bytes, kind: str, tags: dict[int, str]) -> Session:
    """PGW/SGW record bytes (choice tag included) -> Session, reading only the fields in ``tags``."""
    s = Session(kind=kind)
    service: tuple[int, int] | None = None
    traffic: tuple[int, int] | None = None
    body, stop = _record_body(data)
    for first, tag, b, e in fields(data, body, stop):
        if first & 0xC0 != CONTEXT_BITS:
            continue
        name = tags.get(tag)
        if name is None:
            continue
        if name == "servedIMSI":
            s.imsi = tbcd(data[b:e])
        elif name == "servedMSISDN":
            s.msisdn = isdn_address(data[b:e])
        elif name == "servedIMEI":
            s.imei = tbcd(data[b:e])
        elif name == "chargingID":
            s.charging_id = int.from_bytes(data[b:e], "big", signed=True)
        elif name in ("p-GWAddress", "s-GWAddress"):
            s.address = _address(data, first, b, e)
        elif name == "recordOpeningTime":
            s.opening = bcd_timestamp(data[b:e])
        elif name == "duration":
            s.duration = int.from_bytes(data[b:e], "big", signed=True)
        elif name == "causeForRecClosing":
            s.cause = int.from_bytes(data[b:e], "big", signed=True)
        elif name == "recordSequenceNumber":
            s.seq = int.from_bytes(data[b:e], "big", signed=True)
        elif name == "localSequenceNumber":
            s.local_seq = int.from_bytes(data[b:e], "big", signed=True)
        elif name == "accessPointNameNI":
            s.apn = data[b:e].decode("ascii", "replace")
        elif name == "listOfServiceData":
            service = _volumes(data, b, e, *SERVICE_DATA_VOLUME_TAGS)
        elif name == "listOfTrafficVolumes":
            traffic = _volumes(data, b, e, *TRAFFIC_VOLUME_TAGS)
    s.bytes_up, s.bytes_down = service or traffic or (0, 0)
    return s


def lean_chf(data: bytes) -> Session:
    """CHFRecord.chargingFunctionRecord (TS 32.298 CHFChargingDataTypes): the fields a data session needs."""
    s = Session(kind="chf")
    body, stop = _record_body(data)
    for first, tag, b, e in fields(data, body, stop):
        if first & 0xC0 != CONTEXT_BITS:
            continue
        if tag == 1:  # recordingNetworkFunctionID
            s.address = data[b:e].decode("ascii", "replace")
        elif tag == 2:  # subscriberIdentifier: SubscriptionID SET { [0] type, [1] data }
            id_type, id_data = None, ""
            for _, item, ib, ie in fields(data, b, e):
                if item == 0:
                    id_type = ber_int(data[ib:ie])
                elif item == 1:
                    id_data = data[ib:ie].decode("utf-8", "replace")
            if id_type == 0:  # END_USER_E164
                s.msisdn = id_data.removeprefix("+")
            elif id_type == 1:  # END_USER_IMSI
                s.imsi = id_data
        elif tag == 5:  # listOfMultipleUnitUsage -> usedUnitContainers [1] -> [5] uplink, [6] downlink
            for _, _, ub, ue in fields(data, b, e):
                for part_first, part, pb, pe in fields(data, ub, ue):
                    if part_first & 0xC0 == CONTEXT_BITS and part == 1:
                        up, down = _volumes(data, pb, pe, 5, 6)
                        s.bytes_up += up
                        s.bytes_down += down
        elif tag == 6:
            s.opening = bcd_timestamp(data[b:e])
        elif tag == 7:
            s.duration = ber_int(data[b:e])
        elif tag == 8:
            s.seq = ber_int(data[b:e])
        elif tag == 9:
            s.cause = ber_int(data[b:e])
        elif tag == 11:
            s.local_seq = ber_int(data[b:e])
        elif tag == 13:  # pDUSessionChargingInformation: [0] pDUSessionChargingID
            for item_first, item, ib, ie in fields(data, b, e):
                if item_first & 0xC0 == CONTEXT_BITS and item == 0:
                    s.charging_id = ber_int(data[ib:ie])
    return s


# --- pycrate decoder -----------------------------------------------------------------------------------

_GPRS_RECORD: Any = None


def _pycrate_record() -> Any:
    global _GPRS_RECORD
    if _GPRS_RECORD is None:
        from pycrate_asn1dir import CDR  # ~3 s to import: only when a record needs it

        _GPRS_RECORD = CDR.GPRSChargingDataTypes.GPRSRecord
    return _GPRS_RECORD


def _pycrate_address(value: Any) -> str:
    # ('iPBinaryAddress', ('iPBinV4Address', b'...')) or ('iPTextRepresentedAddress', ('iPTextV4Address', '...'))
    while isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, value = value
        if name in ("iPBinV4Address", "iPBinV6Address"):
            return _ip(value, 0)
        if name in ("iPTextV4Address", "iPTextV6Address"):
            return str(value)
        if name == "iPBinV6AddressWithPrefix" and isinstance(value, dict):
            return _ip(value.get("iPBinV6Address", b""), 0)
    return ""


def pycrate_gprs(data: bytes, kind: str) -> Session:
    decoder = _pycrate_record()
    decoder.from_ber(data)
    _, rec = decoder.get_val()
    s = Session(kind=kind)
    s.imsi = tbcd(rec["servedIMSI"]) if "servedIMSI" in rec else ""
    s.msisdn = isdn_address(rec["servedMSISDN"]) if "servedMSISDN" in rec else ""
    s.imei = tbcd(rec["servedIMEI"]) if "servedIMEI" in rec else ""
    s.charging_id = rec.get("chargingID")
    for name in ADDRESS_FIELDS:
        if name in rec:
            s.address = _pycrate_address(rec[name])
            break
    s.opening = bcd_timestamp(rec["recordOpeningTime"]) if "recordOpeningTime" in rec else None
    s.duration = rec.get("duration")
    s.cause = rec.get("causeForRecClosing")
    s.seq = rec.get("recordSequenceNumber")
    s.local_seq = rec.get("localSequenceNumber")
    s.apn = rec.get("accessPointNameNI", "")
    if rec.get("listOfServiceData"):
        s.bytes_up = sum(c.get("datavolumeFBCUplink", 0) for c in rec["listOfServiceData"])
        s.bytes_down = sum(c.get("datavolumeFBCDownlink", 0) for c in rec["listOfServiceData"])
    elif rec.get("listOfTrafficVolumes"):
        s.bytes_up = sum(c.get("dataVolumeGPRSUplink", 0) for c in rec["listOfTrafficVolumes"])
        s.bytes_down = sum(c.get("dataVolumeGPRSDownlink", 0) for c in rec["listOfTrafficVolumes"])
    return s


# --- framing -------------------------------------------------------------------------------------------

FILL = (0x00, 0xFF)
TS32297_CDR_HEADER = 5  # CDR length (2), release/version (1), data record format/TS number (1), extension (1)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    problem: TlvError | None = None


def _record_start(byte: int) -> bool:
    return byte >> 6 == CONTEXT and bool(byte & 0x20)  # records are context-tagged, constructed choices


def _ts32297_header(buf: Buffer, size: int) -> int | None:
    """Length of a TS 32.297 file header, when the file starts with one: plausible file and header lengths,
    and a record (bare, or behind its CDR header) right after the header."""
    if size < 54 or _record_start(buf[0]):
        return None
    file_length = int.from_bytes(bytes(buf[0:4]), "big")
    header_length = int.from_bytes(bytes(buf[4:8]), "big")
    if file_length < header_length or header_length < 50 or header_length >= size or file_length > 16 * size:
        return None
    first = header_length + TS32297_CDR_HEADER
    if _record_start(buf[header_length]) or (first < size and _record_start(buf[first])):
        return header_length
    return None


def _fill(buf: Buffer, at: int, size: int, framed: bool) -> bool:
    """Padding between records. Behind a TS 32.297 header a 0x00 may open a CDR header (a CDR shorter than
    256 bytes), so there only a zero length or 0xFFFF counts as padding."""
    if not framed:
        return buf[at] in FILL
    if at + 1 >= size:
        return buf[at] in FILL
    return (buf[at], buf[at + 1]) in ((0x00, 0x00), (0xFF, 0xFF))


def spans(buf: Buffer, size: int) -> Iterator[Span]:
    """Where each record lies: header-less concatenation, fill bytes skipped, or TS 32.297 layout."""
    header = _ts32297_header(buf, size)
    framed = header is not None
    at = header or 0
    while at < size:
        if _fill(buf, at, size, framed):
            at += 1
            continue
        if framed and not _record_start(buf[at]):
            if at + TS32297_CDR_HEADER > size:
                yield Span(at, size, TlvError("truncated", "CDR header cut short"))
                return
            length = int.from_bytes(bytes(buf[at:at + 2]), "big")
            body = at + TS32297_CDR_HEADER
            if body + length > size:
                yield Span(at, size, TlvError("truncated", f"CDR of {length} bytes, {size - body} left"))
                return
            yield Span(body, body + length)
            at = body + length
            continue
        if not _record_start(buf[at]):  # not a record: bytes between records, skipped to the next record
            after = _next_record(buf, at + 1, size)
            where = f"up to the next record at byte {after}" if after < size else "up to the end of the file"
            yield Span(at, after, TlvError("undecodable", f"{after - at} bytes that are not a charging record, {where}"))
            at = after
            continue
        try:
            tlv = read_tlv(buf, at, size)
        except TlvError as exc:
            yield Span(at, size, exc)  # the framing is lost: the rest of the file is one reject
            return
        yield Span(at, tlv.end)
        at = tlv.end


def _next_record(buf: Buffer, at: int, size: int) -> int:
    """Where the next record starts, from ``at`` on (``size`` when none does). Bytes that are not a record
    start are not framed as BER elements: a stray byte read as a tag and a length would swallow the records
    after it. A record here is a GPRS or CHF record (a context-tagged constructed element) whose elements fill
    it exactly and that is followed by the end of the file, fill or another record: random bytes almost never
    pass all of that."""
    while at < size:
        if _record_start(buf[at]) and _well_formed(buf, at, size):
            return at
        at += 1
    return size


def _well_formed(buf: Buffer, at: int, size: int) -> bool:
    try:
        head = read_head(buf, at, size)
        if head.tag not in GPRS_RECORDS and head.tag != CHF_RECORD:
            return False
        tlv = read_tlv(buf, at, size)
        for _ in children(buf, tlv):
            pass
    except TlvError:
        return False
    return tlv.end == size or buf[tlv.end] in FILL or _record_start(buf[tlv.end])


class GprsBerReader:
    name: ClassVar[str] = "3gpp-ber"

    def __init__(self, *, decoder: str = "lean") -> None:
        """``decoder``: ``lean`` (PGW/SGW through the lean decoder, others through pycrate) or ``pycrate``
        (every GPRS record through pycrate's complete decoder)."""
        if decoder not in ("lean", "pycrate"):
            raise ValueError("decoder is 'lean' or 'pycrate'")
        self.decoder = decoder

    def sniff(self, head: bytes, path: Path) -> bool:
        size = len(head)
        if not head:
            return False
        header = _ts32297_header(head, size)
        at = header or 0
        while at < size and _fill(head, at, size, header is not None):
            at += 1
        if header is not None and at < size and not _record_start(head[at]):
            at += TS32297_CDR_HEADER
        if at >= size or not _record_start(head[at]):
            return False
        tag = _peek(head, at)
        return tag is not None and (tag in GPRS_RECORDS or tag == CHF_RECORD)

    def read(self, path: Path, *, source: str, batch_size: int) -> Iterator[RawBatch]:
        size = os.path.getsize(path)
        if size == 0:
            return
        builder = BatchBuilder(OUTPUT, batch_size=batch_size, types=NATIVE_TYPES)
        file = str(path)
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            for span in spans(buf, size):
                raw = buf[span.start:span.end]
                if span.problem is not None:
                    builder.reject(make_reject(file, span.start, span.problem.reason, str(span.problem), raw))
                else:
                    self._decode(buf, span, raw, builder, file)
                if builder.full:
                    yield builder.flush()
        if len(builder):
            yield builder.flush()

    def _decode(self, buf: Buffer, span: Span, raw: bytes, builder: BatchBuilder, file: str) -> None:
        try:
            tlv = read_head(buf, span.start, span.end)
            if tlv.cls != CONTEXT or not tlv.constructed or (tlv.tag not in GPRS_RECORDS and tlv.tag != CHF_RECORD):
                raise UnsupportedRecord(f"not a GPRS or CHF record (class {tlv.cls}, tag {tlv.tag})")
            session = self._session(tlv.tag, raw)
        except UnsupportedRecord as exc:
            builder.reject(make_reject(file, span.start, "unsupported_record", str(exc), raw))
            return
        except TlvError as exc:
            builder.reject(make_reject(file, span.start, exc.reason, str(exc), raw))
            return
        except Exception as exc:  # pycrate raises several kinds on damaged input
            builder.reject(make_reject(file, span.start, "undecodable", f"{type(exc).__name__}: {exc}", raw))
            return
        builder.add(span.start, raw, to_record(session))

    def _session(self, tag: int, raw: bytes) -> Session:
        if tag == CHF_RECORD:
            return _lean(lean_chf, raw, "chargingFunctionRecord")
        choice, kind = GPRS_RECORDS[tag]
        if choice not in VOLUME_RECORDS:
            raise UnsupportedRecord(f"{choice} carries no data session volumes")
        tags = LEAN_TAGS.get(tag)
        if tags is not None and self.decoder == "lean":
            try:
                return _lean(lambda data: lean_gprs(data, kind, tags), raw, choice)
            except IndefiniteLength:
                pass  # valid BER the lean decoder does not follow: the complete decoder reads it
        return pycrate_gprs(raw, kind)


def _lean(decode: Callable[[bytes], Session], raw: bytes, what: str) -> Session:
    """A lean decode; a record it cannot follow is undecodable (a record is framed, so it is not truncated:
    its insides are wrong). The complete decoder is not asked: it costs 600 MB and seconds to load."""
    try:
        return decode(raw)
    except IndefiniteLength:
        raise
    except (TlvError, ValueError, IndexError) as exc:
        raise TlvError("undecodable", f"{what}: {exc or type(exc).__name__}") from exc


def _peek(head: bytes, at: int) -> int | None:
    """The context tag number of the element at ``at`` (the length may run past the head)."""
    first = head[at]
    tag = first & 0x1F
    if tag != 0x1F:
        return tag
    tag, i = 0, at + 1
    while i < len(head) and i < at + 5:
        b = head[i]
        tag = (tag << 7) | (b & 0x7F)
        i += 1
        if not b & 0x80:
            return tag
    return None

