"""Bytes between BER charging records that are not a record (garbage written by a front end, a stray header)
are one ``undecodable`` reject at their first byte, and the record after them is read.

Before: the stray bytes were framed as BER elements (a byte read as a tag, the next as a length), so they split
into several rejects that swallowed the intact record after them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fairtel.mediation.readers import Reject
from fairtel.mediation.readers._ber import GprsBerReader


def tbcd_bytes(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def pgw(charging_id: int) -> bytes:
    from pycrate_asn1dir import CDR

    opening = bytes.fromhex("260301100000") + b"+" + bytes.fromhex("0800")
    rec: dict[str, Any] = {
        "recordType": 85, "servedIMSI": tbcd_bytes("460001234567890"),
        "p-GWAddress": ("iPBinaryAddress", ("iPBinV4Address", b"\x0a\x00\x00\x01")), "chargingID": charging_id,
        "servingNodeAddress": [("iPBinaryAddress", ("iPBinV4Address", b"\x0a\x00\x00\x02"))],
        "accessPointNameNI": "cmnet", "recordOpeningTime": opening, "duration": 600, "causeForRecClosing": 0,
        "chargingCharacteristics": b"\x08\x00", "recordSequenceNumber": 1, "servingNodeType": ["gTPSGW"],
        "servedMSISDN": b"\x91" + tbcd_bytes("8613800138000"),
        "listOfServiceData": [{"ratingGroup": 10, "localSequenceNumber": 1, "serviceConditionChange": (0, 32),
                               "datavolumeFBCUplink": 100, "datavolumeFBCDownlink": 1000, "timeOfReport": opening}],
    }
    record = CDR.GPRSChargingDataTypes.GPRSRecord
    record.set_val(("pGWRecord", rec))
    return bytes(record.to_ber())


def read(path: Path) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for batch in GprsBerReader().read(path, source="test", batch_size=1000):
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


@pytest.mark.parametrize("garbage", [
    b"\x01\x02\x03garbage",
    b"\x30\x80\x02\x01\x05",  # a universal SEQUENCE of indefinite length: would swallow the rest of the file
    b"\x01\xbf\x4f\x03\x80\x01\x55junk",  # holds a record's tag, but not a record that fills its length
])
def test_garbage_between_records_is_one_reject_and_the_next_record_is_read(tmp_path: Path, garbage: bytes) -> None:
    first, second = pgw(1000), pgw(2000)
    path = tmp_path / "pgw.ber"
    path.write_bytes(first + garbage + second)
    rows, rejects = read(path)
    assert [r["record_id"] for r in rows] == ["pgw:10.0.0.1:1000:1", "pgw:10.0.0.1:2000:1"]
    assert [r["_pos"] for r in rows] == [0, len(first) + len(garbage)]
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(len(first), "undecodable", garbage)]
    assert f"{len(garbage)} bytes that are not a charging record" in rejects[0].message
    assert f"next record at byte {len(first) + len(garbage)}" in rejects[0].message


def test_garbage_at_the_end_is_one_reject(tmp_path: Path) -> None:
    first = pgw(1000)
    path = tmp_path / "pgw.ber"
    path.write_bytes(first + b"\x01\x02\x03garbage")
    rows, rejects = read(path)
    assert len(rows) == 1
    assert [(r.position, r.reason, r.raw) for r in rejects] == [(len(first), "undecodable", b"\x01\x02\x03garbage")]
    assert "up to the end of the file" in rejects[0].message
