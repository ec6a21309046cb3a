"""TAP charges are in the TAP currency (SDR unless the batch names another), and each charge information names the
exchange rate code its charge was converted with: the batch's currency conversion table gives, for each code, the
local currency units to one unit of TAP currency, at that entry's own number of decimal places (TD.57). The reader
converts each charge information's total with its own code's rate, sums exactly and rounds once (``tap_local_charge``);
a call event naming a code the table does not define (or defines with no usable rate), or with a charge above zero and
no code, is rejected naming the file, the record and the field. It used to be read with no rate at all, and an entry
without its number of decimal places was read as a whole number (7.8000 taken as 78000)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from test_mediation_gap_tap_charges import SAMPLE, _charges, gprs, moc, read, tap_file
from tests.unit._tap_samples import commercial

from fairtel.core.settings import Settings
from fairtel.mediation import Status, ingest_files

FIELD = "basicServiceUsedList[1].chargeInformationList[1].exchangeRateCode"


def _recode(data: bytes, change: Any) -> bytes:
    """A TAP file's bytes with its transfer batch changed by ``change``."""
    from pycrate_asn1dir import TAP3

    spec = TAP3.TAP_0312.DataInterChange
    spec.from_ber(data)
    kind, batch = spec.get_val()
    change(batch)
    spec.set_val((kind, batch))
    return bytes(spec.to_ber())


def test_an_exchange_rate_code_the_table_does_not_define_rejects_the_event(tmp_path: Path) -> None:
    kind, call = moc(700)
    call["basicServiceUsedList"][0]["chargeInformationList"] = _charges(700, rate_code=9)  # the table has 1 and 2
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(1234), (kind, call), gprs(99999)], total=1234 + 700 + 99999))
    rows, rejects = read(path)
    assert [r["record_id"] for r in rows] == ["CHNCT-00042-1", "CHNCT-00042-3"]
    [reject] = rejects
    assert (reject.reason, reject.field) == ("bad_value", FIELD)
    for said in ("CDCHNCTZZZBB00042", "record CHNCT-00042-2", f"{FIELD} is 9", "does not define it",
                 "codes with a rate: 1, 2", f"at byte {reject.position}"):
        assert said in reject.message, said
    # counted in the audit all the same (its charge is in the batch's total): the batch is read, one event rejected
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000), fmt="tap3")
    assert (rep.status, rep.read, rep.accepted, rep.rejected) == (Status.INGESTED, 3, 2, 1)
    assert rep.reasons == {"bad_value": 1}


def test_each_charge_is_converted_with_its_own_rate_and_rounded_once(tmp_path: Path) -> None:
    # 1.000 EUR at code 2 (7.8000 CNY to 1 EUR) and 0.500 EUR at code 1 (1.00000): 7.800 + 0.500 CNY
    kind, call = moc(1000)
    call["basicServiceUsedList"].append({"basicService": {"serviceCode": ("teleServiceCode", b"11")},
                                         "chargeInformationList": _charges(500, rate_code=1)})
    # three charge informations of 0.001 EUR at 7.8000: 0.0234 CNY in all, 0.023 rounded once (0.024 if each were)
    small_kind, small = moc(1)
    small["basicServiceUsedList"][0]["chargeInformationList"] = _charges(1) * 3
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([(kind, call), (small_kind, small), gprs(99999)], total=1500 + 3 + 99999))
    (mixed, tiny, data), rejects = read(path)
    assert rejects == []
    assert (mixed["tap_charge"], mixed["tap_currency"], mixed["tap_exchange_rate"]) == ("1.500", "EUR", None)
    assert (mixed["tap_local_charge"], mixed["tap_local_currency"]) == ("8.300", "CNY")
    assert (tiny["tap_charge"], tiny["tap_exchange_rate"], tiny["tap_local_charge"]) == ("0.003", "7.8000", "0.023")
    assert (data["tap_charge"], data["tap_local_charge"]) == ("99.999", "779.992")  # 779.9922 CNY


def test_a_rate_without_its_decimal_places_is_no_rate(tmp_path: Path) -> None:
    def undated(batch: dict[str, Any]) -> None:
        batch["accountingInfo"]["currencyConversionInfo"][1].pop("numberOfDecimalPlaces")  # code 2: 78000, scale?

    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(_recode(tap_file([moc(1234)], total=1234), undated))
    rows, [reject] = read(path)
    assert rows == [] and (reject.reason, reject.field) == ("bad_value", FIELD)
    assert "defines code 2 with no usable rate: its entry has no numberOfDecimalPlaces" in reject.message
    assert "record CHNCT-00042-1" in reject.message and "codes with a rate: 1" in reject.message


def test_a_charge_above_zero_must_name_its_rate_a_free_one_need_not(tmp_path: Path) -> None:
    kind, call = moc(1234)
    del call["basicServiceUsedList"][0]["chargeInformationList"][0]["exchangeRateCode"]
    free_kind, free = copy.deepcopy(moc(0))
    info = free["basicServiceUsedList"][0]["chargeInformationList"][0]
    del info["exchangeRateCode"]
    info["chargeDetailList"] = [{"chargeType": b"00", "charge": 0}]
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([(kind, call), (free_kind, free)], total=1234))
    [row], [reject] = read(path)
    assert (reject.reason, reject.field) == ("missing_field", FIELD)
    assert "record CHNCT-00042-1" in reject.message and "CDCHNCTZZZBB00042" in reject.message
    assert (row["record_id"], row["tap_charge"], row["tap_local_charge"]) == ("CHNCT-00042-2", "0.000", "0.000")


def test_the_shared_sample_in_sdr_and_its_code_missing(shared_dir: Path, tmp_path: Path) -> None:
    data = commercial((shared_dir / SAMPLE).read_bytes())
    path = tmp_path / SAMPLE.name
    path.write_bytes(data)
    [row], rejects = read(path)
    assert rejects == []  # 0.25000 SDR at 1.00000 EUR to 1 SDR
    assert (row["tap_charge"], row["tap_currency"], row["tap_local_charge"], row["tap_local_currency"]) == (
        "0.25000", "XDR", "0.25000", "EUR")

    def other_code(batch: dict[str, Any]) -> None:
        batch["callEventDetails"][0][1]["basicServiceUsedList"][0]["chargeInformationList"][0]["exchangeRateCode"] = 2

    bad = tmp_path / "CDZZZAAZZZBB00002"
    bad.write_bytes(_recode(data, other_code))
    rows, [reject] = read(bad)
    assert rows == [] and (reject.reason, reject.field) == ("bad_value", FIELD)
    assert "CDZZZAAZZZBB00002: call event 1 (record ZZZAA-00001-1)" in reject.message
