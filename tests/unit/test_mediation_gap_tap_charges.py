"""A TAP call event without the charge TD.57 requires (no total charge, or no charge detail at all) is rejected,
naming the call event, its byte and where the charge is missing: it used to be read as a free call. The event
still counts in the batch's audit control check. The wholesale charge comes with the exchange rate and local
currency it relates to, and a GPRS call with its APN, beside the sender (``vpmn``) and the IMSI."""

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


def _stamp(local: str) -> dict[str, Any]:
    return {"localTimeStamp": local.encode(), "utcTimeOffsetCode": 1}


def _charges(total: int, rate_code: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "chargedItem": b"D",
            "exchangeRateCode": rate_code,
            "chargeDetailList": [{"chargeType": b"00", "charge": total}, {"chargeType": b"01", "charge": total}],
        }
    ]


def _sim(msisdn: str) -> tuple[str, dict[str, bytes]]:
    digits = msisdn + ("F" if len(msisdn) % 2 else "")
    return ("simChargeableSubscriber", {"imsi": bytes.fromhex("460001234567890F"), "msisdn": bytes.fromhex(digits)})


def moc(total: int = 1234) -> tuple[str, dict[str, Any]]:
    return (
        "mobileOriginatedCall",
        {
            "basicCallInformation": {
                "chargeableSubscriber": _sim("8613800138000"),
                "destination": {"calledNumber": bytes.fromhex("86101234567F")},
                "callEventStartTimeStamp": _stamp("20260301100000"),
                "totalCallEventDuration": 61,
            },
            "basicServiceUsedList": [
                {"basicService": {"serviceCode": ("teleServiceCode", b"11")}, "chargeInformationList": _charges(total)}
            ],
        },
    )


def gprs(total: int = 99999) -> tuple[str, dict[str, Any]]:
    return (
        "gprsCall",
        {
            "gprsBasicCallInformation": {
                "gprsChargeableSubscriber": {"chargeableSubscriber": _sim("8613800138001")},
                "gprsDestination": {"accessPointNameNI": b"cmnet", "accessPointNameOI": b"mnc000.mcc460.gprs"},
                "callEventStartTimeStamp": _stamp("20260301110000"),
                "totalCallEventDuration": 3600,
                "chargingId": 555,
            },
            "gprsServiceUsed": {
                "dataVolumeIncoming": 7000000,
                "dataVolumeOutgoing": 300000,
                "chargeInformationList": _charges(total),
            },
        },
    )


def tap_file(events: list[tuple[str, dict[str, Any]]], *, total: int | None = None) -> bytes:
    """A transfer batch from CHNCT, 3 decimal places in EUR (local currency CNY at exchange rate code 2 = 7.8),
    whose audit control info counts the events and, when ``total`` is given, their total charge."""
    from pycrate_asn1dir import TAP3

    stamp = {"localTimeStamp": b"20260301120000", "utcTimeOffset": b"+0800"}
    audit: dict[str, Any] = {"callEventDetailsCount": len(events)}
    if total is not None:
        audit["totalCharge"] = total
    batch = {
        "batchControlInfo": {
            "sender": b"CHNCT",
            "recipient": b"ZZZBB",
            "fileSequenceNumber": b"00042",
            "fileCreationTimeStamp": stamp,
            "transferCutOffTimeStamp": stamp,
            "fileAvailableTimeStamp": stamp,
            "specificationVersionNumber": 3,
            "releaseVersionNumber": 12,
        },
        "accountingInfo": {
            "localCurrency": b"CNY",
            "tapCurrency": b"EUR",
            "tapDecimalPlaces": 3,
            "currencyConversionInfo": [
                {"exchangeRateCode": 1, "numberOfDecimalPlaces": 5, "exchangeRate": 100000},
                {"exchangeRateCode": 2, "numberOfDecimalPlaces": 4, "exchangeRate": 78000},
            ],
        },
        "networkInfo": {
            "utcTimeOffsetInfo": [{"utcTimeOffsetCode": 1, "utcTimeOffset": b"+0800"}],
            "recEntityInfo": [{"recEntityCode": 1, "recEntityType": 1, "recEntityId": b"1"}],
        },
        "callEventDetails": events,
        "auditControlInfo": audit,
    }
    spec = TAP3.TAP_0312.DataInterChange
    spec.set_val(("transferBatch", batch))
    return bytes(spec.to_ber())


def read(path: Path) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for batch in get_reader("tap3").read(path, source="t", batch_size=10):
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    return rows, rejects


def _no_total(call: dict[str, Any]) -> None:  # only the airtime component: the total charge is missing
    details = call["basicServiceUsedList"][0]["chargeInformationList"][0]["chargeDetailList"]
    details[:] = [d for d in details if d["chargeType"] != b"00"]


def _total_without_charge(call: dict[str, Any]) -> None:
    call["basicServiceUsedList"][0]["chargeInformationList"][0]["chargeDetailList"][0].pop("charge")


def _no_detail_list(call: dict[str, Any]) -> None:
    call["basicServiceUsedList"][0]["chargeInformationList"][0].pop("chargeDetailList")


def _no_charge_information(call: dict[str, Any]) -> None:
    call["basicServiceUsedList"][0].pop("chargeInformationList")


def _no_basic_service(call: dict[str, Any]) -> None:
    call.pop("basicServiceUsedList")


def _gprs_no_charge_information(call: dict[str, Any]) -> None:
    call["gprsServiceUsed"].pop("chargeInformationList")


def _gprs_no_service_used(call: dict[str, Any]) -> None:
    call.pop("gprsServiceUsed")


@pytest.mark.parametrize(
    ("event", "damage", "field"),
    [
        (moc, _no_total, "basicServiceUsedList[1].chargeInformationList[1].chargeDetailList[chargeType=00].charge"),
        (
            moc,
            _total_without_charge,
            "basicServiceUsedList[1].chargeInformationList[1].chargeDetailList[chargeType=00].charge",
        ),
        (moc, _no_detail_list, "basicServiceUsedList[1].chargeInformationList[1].chargeDetailList"),
        (moc, _no_charge_information, "basicServiceUsedList[1].chargeInformationList"),
        (moc, _no_basic_service, "basicServiceUsedList"),
        (gprs, _gprs_no_charge_information, "gprsServiceUsed.chargeInformationList"),
        (gprs, _gprs_no_service_used, "gprsServiceUsed"),
    ],
)
def test_a_call_event_without_its_charge_is_rejected_naming_event_byte_and_field(
    tmp_path: Path,
    event: Callable[[], tuple[str, dict[str, Any]]],
    damage: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    kind, call = event()
    damaged = copy.deepcopy(call)
    damage(damaged)
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(), (kind, damaged), gprs()]))
    rows, rejects = read(path)
    assert [r["record_id"] for r in rows] == ["CHNCT-00042-1", "CHNCT-00042-3"]  # the others are read
    [reject] = rejects
    assert rows[0]["_pos"] < reject.position < rows[1]["_pos"]  # the second event's own byte
    assert (reject.reason, reject.field) == ("missing_field", field)
    assert f"call event 2 at byte {reject.position} ({kind})" in reject.message
    assert field in reject.message and "is missing, which TD.57 requires" in reject.message
    assert reject.raw and path.read_bytes()[reject.position :].startswith(reject.raw)


def test_a_total_charge_of_zero_is_a_free_call_and_read(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(0)], total=0))
    rows, rejects = read(path)
    assert rejects == [] and rows[0]["tap_charge"] == "0.000"


def test_the_wholesale_charge_sender_imsi_and_apn_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(1234), gprs(99999)], total=1234 + 99999))
    (voice, data), rejects = read(path)
    assert rejects == []
    kept = (
        "tap_charge",
        "tap_currency",
        "tap_exchange_rate",
        "tap_local_currency",
        "vpmn",
        "imsi",
        "apn",
        "roaming_country",
    )
    assert {k: voice[k] for k in kept} == {
        "tap_charge": "1.234",
        "tap_currency": "EUR",
        "tap_exchange_rate": "7.8000",
        "tap_local_currency": "CNY",
        "vpmn": "CHNCT",
        "imsi": "460001234567890",
        "apn": None,
        "roaming_country": "CN",
    }
    assert {k: data[k] for k in kept} == {
        "tap_charge": "99.999",
        "tap_currency": "EUR",
        "tap_exchange_rate": "7.8000",
        "tap_local_currency": "CNY",
        "vpmn": "CHNCT",
        "imsi": "460001234567890",
        "apn": "cmnet",
        "roaming_country": "CN",
    }


def test_charge_informations_naming_different_rates_give_no_single_rate(tmp_path: Path) -> None:
    kind, call = moc(1000)
    call["basicServiceUsedList"].append(
        {
            "basicService": {"serviceCode": ("teleServiceCode", b"11")},
            "chargeInformationList": _charges(500, rate_code=1),
        }
    )
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([(kind, call)], total=1500))
    [row], rejects = read(path)
    assert rejects == [] and (row["tap_charge"], row["tap_exchange_rate"]) == ("1.500", None)


def test_a_rejected_event_still_counts_in_the_audit_control_check(tmp_path: Path) -> None:
    kind, call = moc(500)
    _no_total(call)
    events = [moc(1234), (kind, call), gprs(99999)]
    # the damaged event's airtime (type 01) is no total charge: the batch's total is the other two events'
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file(events, total=1234 + 99999))
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000), fmt="tap3")
    assert (rep.status, rep.read, rep.accepted, rep.rejected, rep.duplicate) == (Status.INGESTED, 3, 2, 1, 0)
    assert rep.read == rep.accepted + rep.rejected + rep.duplicate
    assert rep.reasons == {"missing_field": 1}
    # a total that counted the damaged event's component charge as its total does not add up: the batch fails
    wrong = tmp_path / "CDCHNCTZZZBB00043"
    wrong.write_bytes(tap_file(events, total=1234 + 500 + 99999))
    with pytest.raises(FairtelError, match="fails its audit control") as err:
        read(wrong)
    assert err.value.code == "audit_mismatch" and "sum to 101233" in str(err.value)


def test_the_shared_sample_is_read_with_its_charge_and_counts_add_up(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / SAMPLE.name
    path.write_bytes(commercial((shared_dir / SAMPLE).read_bytes()))
    [row], rejects = read(path)
    assert rejects == []
    assert {
        k: row[k]
        for k in (
            "record_id",
            "tap_charge",
            "tap_currency",
            "tap_exchange_rate",
            "tap_local_currency",
            "vpmn",
            "imsi",
            "apn",
        )
    } == {
        "record_id": "ZZZAA-00001-1",
        "tap_charge": "0.25000",
        "tap_currency": "XDR",
        "tap_exchange_rate": "1.00000",
        "tap_local_currency": "EUR",
        "vpmn": "ZZZAA",
        "imsi": "001010000000001",
        "apn": None,
    }
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000))
    assert (rep.status, rep.read, rep.accepted, rep.rejected, rep.duplicate) == (Status.INGESTED, 1, 1, 0, 0)
