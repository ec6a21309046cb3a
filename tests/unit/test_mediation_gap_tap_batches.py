"""TAP transfer batches that are not chargeable usage of their own are refused whole: a batch marked as test data
(``fileTypeIndicator`` T) fails as ``tap_test_data``, and a batch repeating the file sequence number of one read
before (same sender and recipient) with other content is recorded so that its file fails as ``tap_batch_repeated``,
naming the file the number was first read in (TD.57: a repeated sequence number is fatal for the whole batch)."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.unit._tap_samples import commercial
from tests.unit.test_readers_real import TAP_EVENTS, _tap_stamp

from fairtel.core.settings import Settings
from fairtel.mediation import Status, ingest_files
from fairtel.mediation._tap_batches import BatchId, TapBatchRepeatedError, claim, claimed
from fairtel.mediation.readers import get_reader
from fairtel.mediation.readers._tap3 import Tap3Reader, TapTestDataError

pytest.importorskip("pycrate_asn1dir")


def tap_batch(events: list[tuple[str, dict[str, Any]]], *, sequence: str = "00042", test_data: bool = False,
              recipient: str = "ZZZBB") -> bytes:
    from pycrate_asn1dir import TAP3

    stamp = {"localTimeStamp": b"20260301120000", "utcTimeOffset": b"+0800"}
    control: dict[str, Any] = {"sender": b"CHNCT", "recipient": recipient.encode(),
                               "fileSequenceNumber": sequence.encode(), "fileCreationTimeStamp": stamp,
                               "transferCutOffTimeStamp": stamp, "fileAvailableTimeStamp": stamp,
                               "specificationVersionNumber": 3, "releaseVersionNumber": 12}
    if test_data:
        control["fileTypeIndicator"] = b"T"
    batch = {
        "batchControlInfo": control,
        "accountingInfo": {"localCurrency": b"EUR", "tapDecimalPlaces": 3, "tapCurrency": b"EUR",
                           "currencyConversionInfo": [{"exchangeRateCode": 1, "numberOfDecimalPlaces": 5,
                                                       "exchangeRate": 100000}]},
        "networkInfo": {"utcTimeOffsetInfo": [{"utcTimeOffsetCode": 1, "utcTimeOffset": b"+0800"}],
                        "recEntityInfo": [{"recEntityCode": 1, "recEntityType": 1, "recEntityId": b"1"}]},
        "callEventDetails": events,
        "auditControlInfo": {"callEventDetailsCount": len(events)},
    }
    spec = TAP3.TAP_0312.DataInterChange
    spec.set_val(("transferBatch", batch))
    return bytes(spec.to_ber())


def _gprs(partial: bytes, local: str) -> tuple[str, dict[str, Any]]:
    event = copy.deepcopy(TAP_EVENTS[2])
    event[1]["gprsBasicCallInformation"]["partialTypeIndicator"] = partial
    event[1]["gprsBasicCallInformation"]["callEventStartTimeStamp"] = _tap_stamp(local)
    return event


def test_a_test_data_batch_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_batch(TAP_EVENTS[:2], test_data=True))
    with pytest.raises(TapTestDataError) as err:
        list(get_reader("tap3").read(path, source="tap3", batch_size=10))
    assert err.value.code == "tap_test_data" and "test data" in str(err.value) and "00042 from CHNCT" in str(err.value)
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000), fmt="tap3")
    assert rep.status == Status.FAILED and rep.message.startswith("tap_test_data: ")
    assert (rep.read, rep.accepted, rep.rejected, rep.duplicate) == (0, 0, 0, 0) and rep.parts == []


def test_a_commercial_batch_is_read_and_names_itself_once_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_batch(TAP_EVENTS[:2]))
    reader = Tap3Reader()
    rows = [r for b in reader.read(path, source="tap3", batch_size=10) for r in b.table.to_pylist()]
    assert [r["record_id"] for r in rows] == ["CHNCT-00042-1", "CHNCT-00042-2"]
    assert reader.batch_id == BatchId("CHNCT", "ZZZBB", "00042")
    cut = tmp_path / "CDCHNCTZZZBB00043"
    cut.write_bytes(path.read_bytes()[:-8])
    reader = Tap3Reader()
    list(reader.read(cut, source="tap3", batch_size=10))
    assert reader.batch_id is None  # cut short: it may be sent again complete


def test_a_repeated_sequence_number_with_other_content_is_refused_naming_the_first_file() -> None:
    conn = sqlite3.connect(":memory:")
    first = BatchId("CHNCT", "ZZZBB", "00042")
    claim(conn, first, "a" * 64, "/in/CDCHNCTZZZBB00042")
    claim(conn, first, "a" * 64, "/in/again/CDCHNCTZZZBB00042")  # the same file again: no conflict
    claim(conn, BatchId("CHNCT", "ZZZBB", "00043"), "b" * 64, "/in/CDCHNCTZZZBB00043")
    claim(conn, BatchId("CHNCT", "OTHER", "00042"), "c" * 64, "/in/CDCHNCTOTHER00042")  # another recipient
    with pytest.raises(TapBatchRepeatedError) as err:
        claim(conn, first, "d" * 64, "/in/CDCHNCTZZZBB00042.resent")
    assert err.value.code == "tap_batch_repeated"
    assert "/in/CDCHNCTZZZBB00042 " in str(err.value) and "00042 from CHNCT to ZZZBB" in str(err.value)
    assert err.value.details["first_file"] == "/in/CDCHNCTZZZBB00042"
    assert claimed(conn, first) == "/in/CDCHNCTZZZBB00042"


def test_a_reader_claims_its_batch_in_the_callers_transaction(tmp_path: Path) -> None:
    a, b = tmp_path / "CDCHNCTZZZBB00042", tmp_path / "CDCHNCTZZZBB00043"
    a.write_bytes(tap_batch([TAP_EVENTS[0], TAP_EVENTS[1], _gprs(b"F", "20260301110000")]))
    b.write_bytes(tap_batch([_gprs(b"L", "20260301120000")]))  # other content, the same number
    conn = sqlite3.connect(":memory:", isolation_level=None)
    first = Tap3Reader()
    list(first.read(a, source="tap3", batch_size=10))
    first.claim(conn, "a" * 64, str(a))
    second = Tap3Reader()
    list(second.read(b, source="tap3", batch_size=10))
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(TapBatchRepeatedError):
        second.claim(conn, "b" * 64, str(b))
    conn.execute("ROLLBACK")
    assert claimed(conn, BatchId("CHNCT", "ZZZBB", "00042")) == str(a)


def test_the_shared_sample_is_test_data_and_read_once_marked_commercial(shared_dir: Path, tmp_path: Path) -> None:
    sample = shared_dir / "samples" / "cdr" / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber"
    settings = Settings(home=tmp_path / "home", batch_size=1000)
    [refused] = ingest_files([sample], settings=settings, fmt="tap3")
    assert refused.status == Status.FAILED and refused.message.startswith("tap_test_data: ")
    path = tmp_path / "CDZZZAAZZZBB00001"
    path.write_bytes(commercial(sample.read_bytes()))
    [rep] = ingest_files([path], settings=settings, fmt="tap3")
    assert rep.status == Status.INGESTED and rep.accepted >= 1
    assert rep.read == rep.accepted + rep.rejected + rep.duplicate


def test_ingest_fails_a_repeated_batch_whole_and_keeps_the_first(tmp_path: Path) -> None:
    a, b = tmp_path / "CDCHNCTZZZBB00042", tmp_path / "CDCHNCTZZZBB00043"
    a.write_bytes(tap_batch([TAP_EVENTS[0], TAP_EVENTS[1], _gprs(b"F", "20260301110000")]))
    b.write_bytes(tap_batch([_gprs(b"L", "20260301120000")]))  # other content, the same number
    settings = Settings(home=tmp_path / "home", batch_size=1000)
    [first] = ingest_files([a], settings=settings, fmt="tap3")
    assert (first.status, first.read, first.accepted) == (Status.INGESTED, 3, 3)
    [second] = ingest_files([b], settings=settings, fmt="tap3")
    assert second.status == Status.FAILED and second.message.startswith("tap_batch_repeated: ")
    assert str(a) in second.message and second.parts == [] and second.accepted == 0
    [again] = ingest_files([b], settings=settings, fmt="tap3")  # still refused: nothing of it was kept
    assert again.status == Status.FAILED and again.message.startswith("tap_batch_repeated: ")
    [same] = ingest_files([a], settings=settings, fmt="tap3")  # the first file delivered again
    assert same.status == Status.ALREADY
