"""A TAP file cut short is never taken for a clean batch (cut in its header it used to be "ingested" with 0 records),
and a complete batch is checked against its audit control info: a call event count or a total charge that does
not match what the file holds fails the file as a whole, saying both figures."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.unit._tap_samples import commercial

from fairtel.core.errors import FairtelError
from fairtel.core.settings import Settings
from fairtel.mediation import Status, ingest_files
from fairtel.mediation.readers import Reject, get_reader

SAMPLE = Path("samples") / "cdr" / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber"


def read(path: Path) -> tuple[list[str], list[Reject]]:
    ids: list[str] = []
    rejects: list[Reject] = []
    for batch in get_reader("tap3").read(path, source="t", batch_size=10):
        ids.extend(batch.table.column("record_id").to_pylist())
        rejects.extend(batch.rejects)
    return ids, rejects


def variant(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    from pycrate_asn1dir import TAP3

    spec = TAP3.TAP_0312.DataInterChange
    spec.from_ber(data)
    kind, batch = copy.deepcopy(spec.get_val())
    change(batch)
    spec.set_val((kind, batch))
    return bytes(spec.to_ber())


def test_a_batch_cut_in_its_header_is_a_truncated_reject_not_an_empty_ingest(shared_dir: Path,
                                                                            tmp_path: Path) -> None:
    data = commercial((shared_dir / SAMPLE).read_bytes())
    cut = tmp_path / "CDZZZAAZZZBB00002"
    cut.write_bytes(data[:150])  # the walk's repro 5: inside the accounting info
    ids, rejects = read(cut)
    assert ids == [] and [r.reason for r in rejects] == ["truncated"]
    assert "accounting info" in rejects[0].message and "no call event read" in rejects[0].message
    [rep] = ingest_files([cut], settings=Settings(home=tmp_path / "home", batch_size=1000), fmt="tap3")
    assert (rep.status, rep.read, rep.accepted, rep.rejected) == (Status.INGESTED, 1, 0, 1)
    assert rep.reasons == {"truncated": 1}


@pytest.mark.parametrize(("cut_at", "where"), [
    (223, "before its first call event"),  # exactly where the call event list's content starts
    (222, "cut short by the end of the file"),  # inside the list's length octets
])
def test_a_batch_cut_between_elements_is_truncated_too(shared_dir: Path, tmp_path: Path, cut_at: int,
                                                       where: str) -> None:
    data = commercial((shared_dir / SAMPLE).read_bytes())
    cut = tmp_path / "cut"
    cut.write_bytes(data[:cut_at])
    ids, rejects = read(cut)
    assert ids == [] and [r.reason for r in rejects] == ["truncated"] and where in rejects[0].message


def test_a_batch_missing_its_last_byte_keeps_its_call_event_and_says_it_is_cut(shared_dir: Path,
                                                                              tmp_path: Path) -> None:
    data = commercial((shared_dir / SAMPLE).read_bytes())
    cut = tmp_path / "cut"
    cut.write_bytes(data[:-1])  # the end of the audit control info
    ids, rejects = read(cut)
    assert ids == ["ZZZAA-00001-1"]
    assert [r.reason for r in rejects] == ["truncated"] and "audit control info" in rejects[0].message


def test_the_sample_adds_up_and_is_read(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / SAMPLE.name
    path.write_bytes(commercial((shared_dir / SAMPLE).read_bytes()))
    ids, rejects = read(path)
    assert ids == ["ZZZAA-00001-1"] and rejects == []


@pytest.mark.parametrize(("change", "said"), [
    (lambda b: b["auditControlInfo"].__setitem__("callEventDetailsCount", 2),
     "callEventDetailsCount is 2 but the batch holds 1 call event(s)"),
    (lambda b: b["auditControlInfo"].__setitem__("totalCharge", 20000),
     "totalCharge is 20000 (0.20000 XDR) but the call events' charges of type 00 sum to 25000 (0.25000)"),
    (lambda b: b.pop("auditControlInfo"), "no audit control info"),
])
def test_a_batch_that_does_not_match_its_audit_control_info_fails_as_a_whole(
        shared_dir: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], said: str) -> None:
    path = tmp_path / "CDZZZAAZZZBB00003"
    path.write_bytes(variant(commercial((shared_dir / SAMPLE).read_bytes()), change))
    with pytest.raises(FairtelError, match="fails its audit control") as err:
        read(path)
    assert err.value.code == "audit_mismatch" and said in str(err.value)
    home = tmp_path / "home"
    for _ in range(2):  # read again, the same: nothing of it was kept
        [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000), fmt="tap3")
        assert rep.status == Status.FAILED and rep.message.startswith("audit_mismatch: ") and said in rep.message
        assert (rep.read, rep.accepted, rep.rejected) == (0, 0, 0)
    assert not list((home / "lake").glob("usage/period=*/*.parquet"))


def test_items_the_sender_left_out_are_not_checked(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "CDZZZAAZZZBB00004"
    path.write_bytes(variant(commercial((shared_dir / SAMPLE).read_bytes()), lambda b: b["auditControlInfo"].pop("totalCharge")))
    ids, rejects = read(path)
    assert ids == ["ZZZAA-00001-1"] and rejects == []


def test_total_charge_counts_type_00_and_camel_fees_but_not_refunds() -> None:
    from fairtel.mediation.readers._tap3 import audit_charge

    charge = [{"chargeDetailList": [{"chargeType": b"00", "charge": 100}, {"chargeType": b"01", "charge": 60}]}]
    event = ("contentTransaction", {
        "contentServiceUsedList": [
            {"chargeInformationList": charge},
            {"chargeRefundIndicator": 1, "chargeInformationList": charge},  # a refund: Total Charge Refund
        ],
        "camelServiceUsed": {"camelInvocationFee": 7},
    })
    assert audit_charge(event) == 107


def test_a_batch_with_a_damaged_event_length_fails_its_audit_rather_than_crash(shared_dir: Path,
                                                                              tmp_path: Path) -> None:
    from fairtel.mediation.readers._tlv import read_head, read_tlv

    def three(b: dict[str, Any]) -> None:
        b["callEventDetails"] = b["callEventDetails"] * 3
        b["auditControlInfo"].update(callEventDetailsCount=3, totalCharge=75000)

    data = bytearray(variant(commercial((shared_dir / SAMPLE).read_bytes()), three))
    whole = tmp_path / "whole"
    whole.write_bytes(bytes(data))
    assert read(whole) == (["ZZZAA-00001-1", "ZZZAA-00001-2", "ZZZAA-00001-3"], [])
    events = read_head(data, data.index(b"\x63", 200), len(data))  # [APPLICATION 3]: the call event list
    second = read_head(data, read_tlv(data, events.body, len(data)).end, len(data))
    data[second.body - 1] = 0x7F  # the second event's length, damaged: the list no longer splits into 3 events
    damaged = tmp_path / "damaged"
    damaged.write_bytes(bytes(data))
    with pytest.raises(FairtelError, match="callEventDetailsCount is 3 but") as err:
        read(damaged)
    assert err.value.code == "audit_mismatch"
