"""Switch and roaming format readers: Asterisk, FreeSWITCH CSV and JSON, 3GPP BER (PGW, SGW, CHF), TAP 3.12.

Fixtures are generated here (BER and TAP files encoded with pycrate); the shared samples are read as well
when ../shared is present."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.unit._tap_samples import commercial

from fairtel.core.time import parse_rfc3339
from fairtel.mediation.readers import RawBatch, Reader, Reject, detect, get_reader
from fairtel.mediation.readers._asterisk import AsteriskCsvReader
from fairtel.mediation.readers._ber import LEAN_TAGS, GprsBerReader
from fairtel.mediation.readers._freeswitch import FreeswitchCsvReader, FreeswitchJsonReader
from fairtel.mediation.readers._tap3 import tadig_country
from fairtel.mediation.readers._tlv import bcd_timestamp, isdn_address, tbcd

CDR_SAMPLES = "samples/cdr"


def read_all(reader: Reader, path: Path, batch_size: int = 1000) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for batch in reader.read(path, source="test", batch_size=batch_size):
        assert isinstance(batch, RawBatch)
        assert batch.table.column("_pos").type == pa.int64()
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


def detected(path: Path) -> str | None:
    reader = detect(path, path.read_bytes()[:65536])
    return None if reader is None else reader.name


# --- Asterisk ------------------------------------------------------------------------------------------

CUSTOM_LINE = ('"""Alice"" <client1>","8613800138000","8613900139000","default","PJSIP/a-01","PJSIP/b-02","Dial",'
               '"PJSIP/b","2026-03-01 10:00:00","2026-03-01 10:00:05","2026-03-01 10:01:05","65","60","ANSWERED",'
               '"DOCUMENTATION","acct","1772330400.7","",3')
STOCK_LINE = ('"acct","8613800138001","8613900139001","default","""Bob"" <8613800138001>","SIP/a-1","SIP/b-2","Dial",'
              '"SIP/b","2026-03-01 23:59:50","","2026-03-01 23:59:59","9","9","BUSY","DOCUMENTATION",'
              '"1772380790.9",""')


def test_asterisk_both_layouts_map_to_canonical_fields(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(CUSTOM_LINE + "\n" + STOCK_LINE + "\n")
    rows, rejects = read_all(AsteriskCsvReader(), path)
    assert rejects == []
    custom, stock = rows
    assert custom["record_id"] == "1772330400.7-3"
    assert (custom["msisdn"], custom["peer"], custom["kind"], custom["direction"]) == (
        "8613800138000", "8613900139000", "voice", "out")
    assert custom["started_at"] == "2026-03-01T10:00:05+08:00"  # answer time, operator zone
    assert custom["duration_s"] == "60"
    assert stock["record_id"] == "1772380790.9"
    assert stock["msisdn"] == "8613800138001"
    assert stock["started_at"] == "2026-03-01T23:59:50+08:00"  # unanswered: the start time
    assert stock["duration_s"] == "0"  # BUSY is kept, at zero seconds
    assert [r["_pos"] for r in rows] == [1, 2]
    assert rows[0]["_raw"] == CUSTOM_LINE.encode()


def test_asterisk_timezone_is_a_constructor_option(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(CUSTOM_LINE + "\n")
    rows, _ = read_all(AsteriskCsvReader(timezone="UTC"), path)
    assert parse_rfc3339(rows[0]["started_at"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert rows[0]["started_at"] == "2026-03-01T10:00:05+00:00"


def test_asterisk_bad_lines_are_rejected_with_reason_and_bytes(tmp_path: Path) -> None:
    gbk = CUSTOM_LINE.replace('"""Alice"" <client1>"', '"张三 <client1>"').encode("gbk")
    garbage = b"\x81\x30\xff\xfe,\x00"
    short = b'"a","b","c"'
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\xef\xbb\xbf" + gbk + b"\r\n\r\n" + garbage + b"\n" + short + b"\n" + b"x" * (1 << 20 | 5)
                     + b"\n" + STOCK_LINE.encode())
    rows, rejects = read_all(AsteriskCsvReader(), path, batch_size=2)
    assert [r["_pos"] for r in rows] == [1, 6]  # the GBK line (after a BOM) and the last line without newline
    assert rows[0]["record_id"] == "1772330400.7-3"
    reasons = {r.position: r.reason for r in rejects}
    assert reasons == {3: "undecodable", 4: "column_count", 5: "line_too_long"}
    assert next(r for r in rejects if r.position == 4).raw == short
    assert len(rows) + len(rejects) == 5  # the blank line is not a record


def test_asterisk_shared_sample(shared_dir: Path) -> None:
    path = shared_dir / CDR_SAMPLES / "asterisk_cdr_csv_Master_lab.csv"
    assert detected(path) == "asterisk-csv"
    rows, rejects = read_all(get_reader("asterisk-csv"), path)
    assert rejects == [] and len(rows) == 14
    assert len({r["record_id"] for r in rows}) == 14
    assert rows[0] | {"_raw": None} == {
        "record_id": "1690325492.2-2", "msisdn": "client1", "kind": "voice", "direction": "out",
        "started_at": "2023-07-26T01:51:50+08:00", "duration_s": "13", "peer": "6789", "_pos": 1, "_raw": None}
    unanswered = [r for r in rows if b"NO ANSWER" in r["_raw"]]
    assert len(unanswered) == 3 and all(r["duration_s"] == "0" for r in unanswered)
    for r in rows:
        parse_rfc3339(r["started_at"])


# --- FreeSWITCH CSV --------------------------------------------------------------------------------------

FS_ROW = ('"Alice","8613800138000","8613900139000","default","2026-03-01 10:00:00","2026-03-01 10:00:03",'
          '"2026-03-01 10:02:03","123","120","NORMAL_CLEARING","0b1e8a52-9a4d-4b8e-8f51-2d5c7c0c1a01","",'
          '"8613800138000","PCMU","PCMU"')


def test_freeswitch_csv_default_template_and_resaved_dates(tmp_path: Path) -> None:
    resaved = ",8613800138001,8613900139001,default,2026/3/1 9:05,,2026/3/1 9:05,4,0,NO_ANSWER," \
              "0b1e8a52-9a4d-4b8e-8f51-2d5c7c0c1a02,,,,"
    path = tmp_path / "Master.csv"
    path.write_text(FS_ROW + "\n" + resaved + "\n" + '"x","y"\n')
    assert FreeswitchCsvReader().sniff(path.read_bytes(), path)
    assert not AsteriskCsvReader().sniff(path.read_bytes(), path)
    rows, rejects = read_all(FreeswitchCsvReader(), path)
    assert [r["record_id"] for r in rows] == ["0b1e8a52-9a4d-4b8e-8f51-2d5c7c0c1a01",
                                              "0b1e8a52-9a4d-4b8e-8f51-2d5c7c0c1a02"]
    assert rows[0]["started_at"] == "2026-03-01T10:00:03+08:00" and rows[0]["duration_s"] == "120"
    assert rows[1]["started_at"] == "2026-03-01T09:05:00+08:00" and rows[1]["duration_s"] == "0"
    assert [(r.position, r.reason) for r in rejects] == [(3, "column_count")]


def test_freeswitch_csv_header_line_names_the_template(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("uuid,caller_id_number,destination_number,start_stamp,billsec\n"
                    "abc-1,8613800138000,8613900139000,2026-03-01 10:00:00,42\n")
    assert detected(path) == "freeswitch-csv"
    rows, rejects = read_all(FreeswitchCsvReader(), path)
    assert rejects == []
    assert rows == [{"record_id": "abc-1", "msisdn": "8613800138000", "kind": "voice", "direction": "out",
                     "started_at": "2026-03-01T10:00:00+08:00", "duration_s": "42", "peer": "8613900139000",
                     "_pos": 2, "_raw": b"abc-1,8613800138000,8613900139000,2026-03-01 10:00:00,42"}]


def test_freeswitch_csv_shared_sample_keeps_the_repeated_uuid(shared_dir: Path) -> None:
    path = shared_dir / CDR_SAMPLES / "freeswitch_cdr_csv_Master.csv"
    assert detected(path) == "freeswitch-csv"
    rows, rejects = read_all(get_reader("freeswitch-csv"), path)
    assert rejects == [] and len(rows) == 10
    ids = [r["record_id"] for r in rows]
    assert ids.count("7adced1a-4c7c-11ea-b08c-2bfc2a06d67d") == 3  # dedup downstream sees the same key
    assert len(set(ids)) == 8
    assert rows[0]["started_at"] == "2020-02-10T22:41:00+08:00"
    assert rows[2]["duration_s"] == "0"


# --- FreeSWITCH JSON -------------------------------------------------------------------------------------


def fs_json(uuid: str, caller: str, dest: str, answer_epoch: int, billsec: int) -> dict[str, Any]:
    return {
        "core-uuid": "c0",
        "channel_data": {"state": "CS_REPORTING"},
        "variables": {"uuid": uuid, "start_epoch": str(answer_epoch - 5), "answer_epoch": str(answer_epoch),
                      "billsec": str(billsec), "start_stamp": "2026-03-01%2010%3A00%3A00"},
        "callflow": [{"caller_profile": {"caller_id_number": caller, "destination_number": dest}}],
    }


def test_freeswitch_json_lines_and_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    docs = [fs_json("u1", "8613800138000", "8613900139000", 1772330405, 60),
            fs_json("u2", "8613800138001", "10086", 1772330500, 0)]
    path.write_text(json.dumps(docs[0]) + "\n" + '{"variables": {"uuid": \n' + json.dumps(docs[1]) + "\n")
    assert detected(path) == "freeswitch-json"
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [(r["record_id"], r["msisdn"], r["peer"], r["duration_s"], r["_pos"]) for r in rows] == [
        ("u1", "8613800138000", "8613900139000", "60", 1), ("u2", "8613800138001", "10086", "0", 3)]
    assert rows[0]["started_at"] == "2026-03-01T02:00:05+00:00"
    assert [(r.position, r.reason) for r in rejects] == [(2, "undecodable")]


def test_freeswitch_json_pretty_documents_and_truncated_tail(tmp_path: Path) -> None:
    path = tmp_path / "cdr.json"
    text = json.dumps(fs_json("u1", "1", "2", 1772330405, 7), indent=2) + "\n" + \
        json.dumps(fs_json("u2", "3", "4", 1772330406, 8), indent=2)
    path.write_text(text[:-40])
    rows, rejects = read_all(FreeswitchJsonReader(), path)
    assert [r["record_id"] for r in rows] == ["u1"]
    assert len(rejects) == 1 and rejects[0].reason == "truncated"
    second = text.index("\n{") + 1
    assert rejects[0].position == text.count("\n", 0, second) + 1
    assert rejects[0].raw.startswith(b"{") and b'"u2"' in rejects[0].raw


def test_freeswitch_json_shared_sample(shared_dir: Path) -> None:
    path = shared_dir / CDR_SAMPLES / "freeswitch_mod_json_cdr_FSDev1.json"
    assert detected(path) == "freeswitch-json"
    rows, rejects = read_all(get_reader("freeswitch-json"), path)
    assert rejects == []
    assert [{k: v for k, v in r.items() if k != "_raw"} for r in rows] == [{
        "record_id": "3da8bf84-c133-4959-9e24-e72875cb33a1", "msisdn": "1001", "kind": "voice", "direction": "out",
        "started_at": "2018-01-11T10:25:47+00:00", "duration_s": "68", "peer": "1002", "_pos": 1}]


# --- 3GPP BER ----------------------------------------------------------------------------------------------


def tbcd_bytes(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def ts(text: str) -> bytes:
    """'260301100000+0800' -> TS 32.298 TimeStamp octets."""
    return bytes.fromhex(text[:12]) + text[12].encode() + bytes.fromhex(text[13:17])


def _gprs() -> Any:
    from pycrate_asn1dir import CDR

    return CDR.GPRSChargingDataTypes.GPRSRecord


def pgw(*, msisdn: str | None = "8613800138000", imsi: str = "460001234567890", charging_id: int = 1000,
        seq: int | None = 1, cause: int = 0, containers: Iterable[tuple[int, int]] = ((100, 1000),),
        opening: str = "260301100000+0800", gw: bytes = b"\x0a\x00\x00\x01", imei: str | None = None) -> bytes:
    rec: dict[str, Any] = {
        "recordType": 85, "servedIMSI": tbcd_bytes(imsi),
        "p-GWAddress": ("iPBinaryAddress", ("iPBinV4Address", gw)), "chargingID": charging_id,
        "servingNodeAddress": [("iPBinaryAddress", ("iPBinV4Address", b"\x0a\x00\x00\x02"))],
        "accessPointNameNI": "cmnet", "recordOpeningTime": ts(opening), "duration": 600,
        "causeForRecClosing": cause, "chargingCharacteristics": b"\x08\x00",
        "listOfServiceData": [
            {"ratingGroup": 10 + i, "localSequenceNumber": i + 1, "serviceConditionChange": (0, 32),
             "datavolumeFBCUplink": up, "datavolumeFBCDownlink": down, "timeOfReport": ts(opening)}
            for i, (up, down) in enumerate(containers)],
        "servingNodeType": ["gTPSGW"],
    }
    if seq is not None:
        rec["recordSequenceNumber"] = seq
    if msisdn is not None:
        rec["servedMSISDN"] = b"\x91" + tbcd_bytes(msisdn)
    if imei is not None:
        rec["servedIMEI"] = tbcd_bytes(imei)
    record = _gprs()
    record.set_val(("pGWRecord", rec))
    return bytes(record.to_ber())


def sgw(*, msisdn: str = "8613800138001", charging_id: int = 2000, seq: int | None = 2, cause: int = 16,
        volumes: Iterable[tuple[int, int]] = ((5, 50), (6, 60))) -> bytes:
    rec = {
        "recordType": 84, "servedIMSI": tbcd_bytes("460001234567891"),
        "s-GWAddress": ("iPTextRepresentedAddress", ("iPTextV4Address", "10.0.0.9")), "chargingID": charging_id,
        "servingNodeAddress": [("iPBinaryAddress", ("iPBinV4Address", b"\x0a\x00\x00\x02"))],
        "listOfTrafficVolumes": [
            {"dataVolumeGPRSUplink": up, "dataVolumeGPRSDownlink": down, "changeCondition": "recordClosure",
             "changeTime": ts("260301100500+0800")} for up, down in volumes],
        "recordOpeningTime": ts("260301100000+0800"), "duration": 300, "causeForRecClosing": cause,
        "chargingCharacteristics": b"\x08\x00", "servingNodeType": ["gTPSGW"],
        "servedMSISDN": b"\x91" + tbcd_bytes(msisdn),
    }
    if seq is not None:
        rec["recordSequenceNumber"] = seq
    record = _gprs()
    record.set_val(("sGWRecord", rec))
    return bytes(record.to_ber())


def tlv(tag_bytes: bytes, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return tag_bytes + length + body


def test_pgw_and_sgw_records_with_containers_partials_fill_and_damage(tmp_path: Path) -> None:
    parts = [
        pgw(seq=1, cause=16, containers=[(100, 1000), (200, 2000), (300, 3000)]),  # volume limit: not final
        pgw(seq=2, cause=0, containers=[(1, 2)], opening="260301101000+0800", imei="3520990017614823"),
        sgw(),
    ]
    garbage = tlv(b"\xbf\x4f", b"\x01\x02\x03")  # framed like a pGWRecord, body is nonsense
    mm_record = tlv(b"\xb6", tlv(b"\x80", b"\x20"))  # sgsnMMRecord [22]: no data volumes
    data = parts[0] + b"\x00\x00\x00" + parts[1] + garbage + b"\xff\xff" + parts[2] + mm_record
    cut = pgw(charging_id=9)[:-7]
    path = tmp_path / "pgw.ber"
    path.write_bytes(data + cut)
    assert detected(path) == "3gpp-ber"
    rows, rejects = read_all(GprsBerReader(), path, batch_size=2)
    assert [(r["record_id"], r["session_id"], r["seq"], r["final"]) for r in rows] == [
        ("pgw:10.0.0.1:1000:1", "pgw:10.0.0.1:1000", 1, False),
        ("pgw:10.0.0.1:1000:2", "pgw:10.0.0.1:1000", 2, True),
        ("sgw:10.0.0.9:2000:2", "sgw:10.0.0.9:2000", 2, False),
    ]
    assert (rows[0]["bytes_up"], rows[0]["bytes_down"]) == (600, 6000)  # summed over the three containers
    assert (rows[2]["bytes_up"], rows[2]["bytes_down"]) == (11, 110)  # listOfTrafficVolumes
    assert rows[0]["msisdn"] == "8613800138000" and rows[0]["kind"] == "data"
    assert rows[1]["imei"] == "3520990017614823"
    assert rows[0]["started_at"] == "2026-03-01T10:00:00+08:00" and rows[1]["started_at"] == "2026-03-01T10:10:00+08:00"
    assert rows[0]["duration_s"] == 600 and rows[0]["apn"] == "cmnet"
    offsets = [0, len(parts[0]) + 3, len(parts[0]) + 3 + len(parts[1]) + len(garbage) + 2]
    assert [r["_pos"] for r in rows] == offsets
    assert rows[1]["_raw"] == parts[1]
    at_garbage = offsets[1] + len(parts[1])
    at_mm = offsets[2] + len(parts[2])
    assert [(r.position, r.reason) for r in rejects] == [
        (at_garbage, "undecodable"), (at_mm, "unsupported_record"), (at_mm + len(mm_record), "truncated")]
    assert rejects[0].raw == garbage and rejects[2].raw == cut


def test_msisdn_falls_back_to_imsi(tmp_path: Path) -> None:
    path = tmp_path / "pgw.ber"
    path.write_bytes(pgw(msisdn=None, seq=None))
    rows, rejects = read_all(GprsBerReader(), path)
    assert rejects == []
    assert rows[0]["msisdn"] == "460001234567890" == rows[0]["imsi"]
    assert rows[0]["session_id"] is None and rows[0]["seq"] is None and rows[0]["final"] is None
    assert rows[0]["record_id"] == "pgw:10.0.0.1:1000:0"


def test_ts32297_file_layout_reads_the_same_records(tmp_path: Path) -> None:
    records = [pgw(seq=1, cause=17), pgw(seq=2), sgw()]
    body = b"".join(struct.pack(">HBBB", len(r), 0xB3, 0x20 | 21, 0) + r for r in records)
    header_length = 54
    header = struct.pack(">II", header_length + len(body), header_length) + b"\x00" * (header_length - 8)
    framed, bare = tmp_path / "framed.dat", tmp_path / "bare.ber"
    framed.write_bytes(header + body)
    bare.write_bytes(b"".join(records))
    assert detected(framed) == "3gpp-ber"
    framed_rows, framed_rejects = read_all(GprsBerReader(), framed)
    bare_rows, _ = read_all(GprsBerReader(), bare)
    assert framed_rejects == []
    drop = {"_pos", "_raw"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in framed_rows] == \
        [{k: v for k, v in r.items() if k not in drop} for r in bare_rows]
    assert [r["_raw"] for r in framed_rows] == records
    assert framed_rows[0]["_pos"] == header_length + 5


def test_lean_tag_tables_match_the_compiled_3gpp_modules() -> None:
    from pycrate_asn1dir import CDR

    types = CDR.GPRSChargingDataTypes
    for choice_tag, spec in ((79, types.PGWRecord), (78, types.SGWRecord)):
        compiled = {name: obj._tag[0] for name, obj in spec._cont.items()}
        for tag, name in LEAN_TAGS[choice_tag].items():
            assert compiled[name] == tag, (choice_tag, name)
    cosc = {n: o._tag[0] for n, o in types.ChangeOfServiceCondition._cont.items()}
    assert (cosc["datavolumeFBCUplink"], cosc["datavolumeFBCDownlink"]) == (12, 13)
    cocc = {n: o._tag[0] for n, o in types.ChangeOfCharCondition._cont.items()}
    assert (cocc["dataVolumeGPRSUplink"], cocc["dataVolumeGPRSDownlink"]) == (3, 4)
    choices = {n: o._tag[0] for n, o in types.GPRSRecord._cont.items()}
    assert (choices["pGWRecord"], choices["sGWRecord"]) == (79, 78)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    containers=st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)), min_size=0, max_size=4),
    seq=st.one_of(st.none(), st.integers(1, 500)),
    cause=st.sampled_from([0, 4, 16, 17, 18, 19, 20, 22]),
    charging_id=st.integers(0, 2**32 - 1),
    msisdn=st.one_of(st.none(), st.from_regex(r"861[3-9][0-9]{9}", fullmatch=True)),
    kind=st.sampled_from(["pgw", "sgw"]),
)
def test_lean_decoder_agrees_with_pycrate(tmp_path: Path, containers: list[tuple[int, int]], seq: int | None,
                                          cause: int, charging_id: int, msisdn: str | None, kind: str) -> None:
    if kind == "pgw":
        data = pgw(containers=containers, seq=seq, cause=cause, charging_id=charging_id, msisdn=msisdn)
    else:
        data = sgw(volumes=containers, seq=seq, cause=cause, charging_id=charging_id, msisdn=msisdn or "861")
    path = tmp_path / "one.ber"
    path.write_bytes(data)
    lean, _ = read_all(GprsBerReader(decoder="lean"), path)
    full, _ = read_all(GprsBerReader(decoder="pycrate"), path)
    assert lean == full
    assert lean[0]["bytes_up"] == sum(c[0] for c in containers)
    assert lean[0]["final"] == (None if seq is None else cause not in (16, 17, 18, 19, 22))


def test_pgw_shared_sample(shared_dir: Path) -> None:
    path = shared_dir / CDR_SAMPLES / "synthetic_pgw_cdr.ber"
    assert detected(path) == "3gpp-ber"
    rows, rejects = read_all(get_reader("3gpp-ber"), path)
    assert rejects == []
    assert {k: v for k, v in rows[0].items() if k != "_raw"} == {
        "record_id": "pgw:127.0.0.1:123456:1", "msisdn": "15550000001", "kind": "data",
        "started_at": "2024-01-15T10:30:00+00:00", "duration_s": 300, "bytes_up": 1048576, "bytes_down": 10485760,
        "imei": None, "session_id": "pgw:127.0.0.1:123456", "seq": 1, "final": True, "imsi": "001010000000001",
        "apn": "internet", "_pos": 0}


def chf(*, imsi: str = "460001234567890", charging_id: int | None = 77, seq: int = 3, cause: int = 16,
        volumes: Iterable[tuple[int, int]] = ((10, 20), (30, 40))) -> bytes:
    def i(tag: int, value: int) -> bytes:
        return tlv(bytes([0x80 | tag]), value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big"))

    containers = b"".join(tlv(b"\x30", i(5, up) + i(6, down)) for up, down in volumes)
    usage = tlv(b"\x30", i(0, 10) + tlv(b"\xa1", containers))
    body = (i(0, 200) + tlv(b"\x81", b"smf-1") + tlv(b"\xa2", i(0, 1) + tlv(b"\x81", imsi.encode()))
            + tlv(b"\xa3", i(0, 1)) + tlv(b"\xa5", usage) + tlv(b"\x86", ts("260301100000+0800")) + i(7, 90)
            + i(8, seq) + i(9, cause) + i(11, 55))
    if charging_id is not None:
        body += tlv(b"\xad", i(0, charging_id))
    return tlv(b"\xbf\x81\x48", body)


def test_chf_records_decode_with_the_lean_decoder(tmp_path: Path) -> None:
    path = tmp_path / "chf.ber"
    path.write_bytes(chf() + chf(charging_id=None))
    rows, rejects = read_all(GprsBerReader(), path)
    assert rejects == []
    assert (rows[0]["record_id"], rows[0]["session_id"], rows[0]["seq"], rows[0]["final"]) == (
        "chf:smf-1:77:3", "chf:smf-1:77", 3, False)
    assert (rows[0]["bytes_up"], rows[0]["bytes_down"], rows[0]["duration_s"]) == (40, 60, 90)
    assert rows[0]["msisdn"] == "460001234567890"  # IMSI fallback
    assert rows[1]["session_id"] is None and rows[1]["record_id"] == "chf:smf-1:L55"


def test_chf_shared_sample(shared_dir: Path) -> None:
    path = shared_dir / CDR_SAMPLES / "synthetic_chf_cdr.ber"
    assert detected(path) == "3gpp-ber"
    rows, rejects = read_all(get_reader("3gpp-ber"), path)
    assert rejects == []
    assert (rows[0]["record_id"], rows[0]["msisdn"], rows[0]["started_at"], rows[0]["duration_s"]) == (
        "chf:chf-test-0001:L7", "001010000000001", "2024-01-15T10:30:00+00:00", 300)


def test_octet_string_helpers() -> None:
    assert tbcd(bytes.fromhex("00010100000000f1")) == "001010000000001"
    assert isdn_address(bytes.fromhex("915155000000f1")) == "15550000001"
    assert bcd_timestamp(bytes.fromhex("2401151030002b0000")) == "2024-01-15T10:30:00+00:00"
    assert bcd_timestamp(bytes.fromhex("2401151030002d0530")) == "2024-01-15T10:30:00-05:30"
    assert bcd_timestamp(b"\x24\x01").startswith("invalid:")


# --- TAP 3.12 ------------------------------------------------------------------------------------------


def _tap_stamp(local: str) -> dict[str, Any]:
    return {"localTimeStamp": local.encode(), "utcTimeOffsetCode": 1}


def _charges(charge: int) -> list[dict[str, Any]]:
    return [{"chargedItem": b"D", "exchangeRateCode": 1,
             "chargeDetailList": [{"chargeType": b"00", "charge": charge}, {"chargeType": b"01", "charge": 1}]}]


def tap_file(events: list[tuple[str, dict[str, Any]]], *, sender: str = "CHNCT", tap_currency: str | None = "EUR",
             decimals: int = 3) -> bytes:
    from pycrate_asn1dir import TAP3

    stamp = {"localTimeStamp": b"20260301120000", "utcTimeOffset": b"+0800"}
    accounting: dict[str, Any] = {"localCurrency": b"EUR", "tapDecimalPlaces": decimals,
                                  "currencyConversionInfo": [{"exchangeRateCode": 1, "numberOfDecimalPlaces": 5,
                                                              "exchangeRate": 100000}]}
    if tap_currency:
        accounting["tapCurrency"] = tap_currency.encode()
    batch = {
        "batchControlInfo": {"sender": sender.encode(), "recipient": b"ZZZBB", "fileSequenceNumber": b"00042",
                             "fileCreationTimeStamp": stamp, "transferCutOffTimeStamp": stamp,
                             "fileAvailableTimeStamp": stamp, "specificationVersionNumber": 3,
                             "releaseVersionNumber": 12},
        "accountingInfo": accounting,
        "networkInfo": {"utcTimeOffsetInfo": [{"utcTimeOffsetCode": 1, "utcTimeOffset": b"+0800"}],
                        "recEntityInfo": [{"recEntityCode": 1, "recEntityType": 1, "recEntityId": b"1"}]},
        "callEventDetails": events,
        "auditControlInfo": {"callEventDetailsCount": len(events)},
    }
    spec = TAP3.TAP_0312.DataInterChange
    spec.set_val(("transferBatch", batch))
    return bytes(spec.to_ber())


def _sim(msisdn: str) -> tuple[str, dict[str, bytes]]:
    digits = msisdn + ("F" if len(msisdn) % 2 else "")
    return ("simChargeableSubscriber", {"imsi": bytes.fromhex("460001234567890F"), "msisdn": bytes.fromhex(digits)})


TAP_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("mobileOriginatedCall", {
        "basicCallInformation": {"chargeableSubscriber": _sim("8613800138000"),
                                 "destination": {"calledNumber": bytes.fromhex("86101234567F")},
                                 "callEventStartTimeStamp": _tap_stamp("20260301100000"),
                                 "totalCallEventDuration": 61},
        "locationInformation": {"networkLocation": {"recEntityCode": 1, "cellId": 4321}},
        "basicServiceUsedList": [{"basicService": {"serviceCode": ("teleServiceCode", b"11")},
                                  "chargeInformationList": _charges(1234)}]}),
    ("mobileTerminatedCall", {
        "basicCallInformation": {"chargeableSubscriber": _sim("8613800138000"),
                                 "callOriginator": {"callingNumber": bytes.fromhex("85291234567F")},
                                 "callEventStartTimeStamp": _tap_stamp("20260301101500"),
                                 "totalCallEventDuration": 0},
        "basicServiceUsedList": [{"basicService": {"serviceCode": ("teleServiceCode", b"21")},
                                  "chargeInformationList": _charges(50)}]}),
    ("gprsCall", {
        "gprsBasicCallInformation": {"gprsChargeableSubscriber": {"chargeableSubscriber": _sim("8613800138001")},
                                     "callEventStartTimeStamp": _tap_stamp("20260301110000"),
                                     "totalCallEventDuration": 3600, "partialTypeIndicator": b"L",
                                     "chargingId": 555},
        "gprsServiceUsed": {"dataVolumeIncoming": 7000000, "dataVolumeOutgoing": 300000,
                            "chargeInformationList": _charges(99999)}}),
    ("supplServiceEvent", {"chargeableSubscriber": _sim("8613800138000"),
                           "supplServiceUsed": {"supplServiceCode": b"21"}}),
]


def test_tap_moc_mtc_gprs_and_an_unsupported_event(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file(TAP_EVENTS))
    assert detected(path) == "tap3"
    rows, rejects = read_all(get_reader("tap3"), path)
    moc, mtc, gprs = rows
    assert moc["record_id"] == "CHNCT-00042-1" and mtc["record_id"] == "CHNCT-00042-2"
    assert (moc["msisdn"], moc["peer"], moc["kind"], moc["direction"]) == ("8613800138000", "86101234567", "voice",
                                                                           "out")
    assert moc["started_at"] == "2026-03-01T10:00:00+08:00" and moc["duration_s"] == 61
    assert (moc["tap_charge"], moc["tap_currency"], moc["roaming_country"]) == ("1.234", "EUR", "CN")
    assert moc["cell_id"] == "4321" and moc["imsi"] == "460001234567890"
    assert (mtc["kind"], mtc["direction"], mtc["peer"], mtc["tap_charge"]) == ("sms", "in", "85291234567", "0.050")
    assert (gprs["kind"], gprs["bytes_up"], gprs["bytes_down"], gprs["tap_charge"]) == ("data", 300000, 7000000,
                                                                                   "99.999")
    assert (gprs["session_id"], gprs["final"], gprs["seq"]) == ("CHNCT:555", True, None)
    assert [r.reason for r in rejects] == ["unsupported_record"]
    assert rows[0]["_pos"] < rows[1]["_pos"] < rows[2]["_pos"] < rejects[0].position


def test_tap_without_tap_currency_is_in_sdr_and_cut_file_keeps_complete_events(tmp_path: Path) -> None:
    data = tap_file(TAP_EVENTS[:3], sender="ZZZAA", tap_currency=None, decimals=5)
    whole = tmp_path / "whole"
    whole.write_bytes(data)
    rows, _ = read_all(get_reader("tap3"), whole)
    assert rows[0]["tap_currency"] == "XDR" and rows[0]["tap_charge"] == "0.01234"
    assert rows[0]["roaming_country"] == "ZZ"  # a test TADIG code is no country: ISO's "unknown"
    cut = tmp_path / "cut"
    cut.write_bytes(data[: rows[2]["_pos"] + 20])
    cut_rows, cut_rejects = read_all(get_reader("tap3"), cut)
    assert [r["record_id"] for r in cut_rows] == ["ZZZAA-00042-1", "ZZZAA-00042-2"]
    assert [(r.position, r.reason) for r in cut_rejects] == [(rows[2]["_pos"], "truncated")]


def test_tap_shared_sample(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "CDZZZAAZZZBB00001"
    path.write_bytes(commercial((shared_dir / CDR_SAMPLES / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber").read_bytes()))
    assert detected(path) == "tap3"
    rows, rejects = read_all(get_reader("tap3"), path)
    assert rejects == []
    assert {k: v for k, v in rows[0].items() if k != "_raw"} == {
        "record_id": "ZZZAA-00001-1", "msisdn": "15550000001", "kind": "voice", "direction": "out",
        "started_at": "2024-01-15T10:00:00+01:00", "duration_s": 125, "bytes_up": None, "bytes_down": None,
        "peer": "15550000002", "tap_charge": "0.25000", "tap_currency": "XDR", "roaming_country": "ZZ", "cell_id": "1",
        "imei": None, "session_id": None, "seq": None, "final": None, "imsi": "001010000000001", "vpmn": "ZZZAA",
        "apn": None, "tap_exchange_rate": "1.00000", "tap_local_currency": "EUR", "tap_local_charge": "0.25000",
        "_pos": 223}


def test_tadig_country() -> None:
    assert (tadig_country("CHNCT"), tadig_country("HKGPP"), tadig_country("DEUD1")) == ("CN", "HK", "DE")
    assert tadig_country("ZZZAA") == "ZZ"


# --- every reader: detection and garbage ---------------------------------------------------------------

REAL = ["asterisk-csv", "freeswitch-csv", "freeswitch-json", "3gpp-ber", "tap3"]


@pytest.mark.parametrize("name", REAL)
def test_readers_do_not_claim_canonical_csv_or_garbage(tmp_path: Path, name: str) -> None:
    reader = get_reader(name)
    canonical = b"record_id,msisdn,kind,started_at\nr1,8613800138000,sms,2026-03-01T10:00:00+08:00\n"
    assert not reader.sniff(canonical, tmp_path / "usage.csv")
    assert not reader.sniff(b"", tmp_path / "empty")


@pytest.mark.parametrize("name", REAL)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=400))
@example(data=b"[]")
@example(data=b"\xef\xbb\xbf [ \r\n] [\t]\n")
@example(data=b"[[]]")
@example(data=b"[] x")
def test_garbage_never_crashes_and_every_record_is_accounted(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(data)
    consumed = 0
    for batch in get_reader(name).read(path, source="fuzz", batch_size=7):
        consumed += batch.consumed
        assert all(reject.reason for reject in batch.rejects)
    if name in ("asterisk-csv", "freeswitch-csv"):
        text_lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
        assert consumed == sum(1 for line in text_lines if line.strip())
    elif name == "freeswitch-json":
        # empty arrays of call records hold no record; anything else that is not white space is a record or a reject
        rest = re.sub(rb"\[[ \t\r\n\x0b\x0c]*\]", b"", data.removeprefix(b"\xef\xbb\xbf"))
        assert (consumed >= 1) == bool(rest.strip(b" \t\r\n\x0b\x0c"))
    elif name == "3gpp-ber":
        assert (consumed >= 1) == bool(data.strip(b"\x00\xff"))
    elif data[:1] not in (b"\x61", b"\x62"):  # tap3: anything but a batch or a notification is one reject
        assert consumed == (1 if data else 0)


def test_indefinite_length_record_goes_to_the_complete_decoder(tmp_path: Path) -> None:
    definite = pgw(seq=4, cause=17, containers=[(7, 70), (8, 80)])
    assert definite[2] == 0x81  # long-form length: tag (2 octets) + 0x81 + 1 length octet
    indefinite = definite[:2] + b"\x80" + definite[4:] + b"\x00\x00"
    path = tmp_path / "indef.ber"
    path.write_bytes(indefinite + definite)
    rows, rejects = read_all(GprsBerReader(), path)
    assert rejects == []
    assert [(r["record_id"], r["bytes_up"], r["final"]) for r in rows] == [
        ("pgw:10.0.0.1:1000:4", 15, False), ("pgw:10.0.0.1:1000:4", 15, False)]
    assert rows[0]["_raw"] == indefinite and rows[1]["_pos"] == len(indefinite)


def test_a_freeswitch_template_naming_none_of_the_cdr_variables_is_a_clear_error() -> None:
    from fairtel.core.errors import ConfigError

    with pytest.raises(ConfigError, match="must name the CDR's variables"):
        FreeswitchCsvReader(columns=["a", "b", "c"])
    assert FreeswitchCsvReader(columns=["uuid", "caller_id_number"]).columns == ("uuid", "caller_id_number")
