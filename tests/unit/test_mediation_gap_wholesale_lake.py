"""The wholesale charge a TAP call event carries (the visited network's charge, in its currency), the sender
(``vpmn``), the IMSI and the APN reach the usage lake, in optional columns of the clean usage contract, for
reconciling a TAP file with the visited network's invoice: ingest used to drop them. The charge is kept exactly as
written (integer units at the batch's decimal places), never in ``amount_minor``. Inputs and state without them
stay valid. A charge detail list with two total charges (TD.57 allows one) is rejected, naming the event, its
byte and the list, rather than summed."""

from __future__ import annotations

import sqlite3
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from test_mediation_gap_tap_charges import gprs, moc, read, tap_file
from tests.unit._tap_samples import commercial

from fairtel.core.contracts import CLEAN_USAGE_OPTIONAL, CLEAN_USAGE_SCHEMA, USAGE_FIELDS
from fairtel.core.settings import Settings
from fairtel.mediation import Status, ingest_files, validate
from fairtel.mediation._state import SCHEMA
from fairtel.mediation.readers import RawBatch
from fairtel.store._lake import Lake

WHOLESALE = ["imsi", "vpmn", "apn", "wholesale_charge_units", "wholesale_charge_decimals", "wholesale_charge_currency"]


def _lake_rows(home: Path) -> list[dict[str, Any]]:
    rows = Lake(home / "lake").scan("usage").sort_by("record_id").to_pylist()
    return [{k: r[k] for k in ["record_id", "kind", "amount_minor", "currency", *WHOLESALE]} for r in rows]


def test_the_contract_gains_only_optional_nullable_columns() -> None:
    assert CLEAN_USAGE_SCHEMA.names[-len(CLEAN_USAGE_OPTIONAL) :] == list(CLEAN_USAGE_OPTIONAL) == WHOLESALE
    assert all(CLEAN_USAGE_SCHEMA.field(n).nullable for n in CLEAN_USAGE_OPTIONAL)
    assert {"imsi", "vpmn", "apn", "wholesale_charge", "wholesale_currency"} <= set(USAGE_FIELDS)


def test_tap_wholesale_charge_sender_imsi_and_apn_reach_the_lake(tmp_path: Path) -> None:
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(1234), gprs(99999)], total=1234 + 99999))
    home = tmp_path / "home"
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000), fmt="tap3")
    assert (rep.status, rep.accepted, rep.rejected) == (Status.INGESTED, 2, 0)
    voice, data = _lake_rows(home)
    assert voice == {
        "record_id": "CHNCT-00042-1",
        "kind": "voice",
        "amount_minor": None,
        "currency": None,
        "imsi": "460001234567890",
        "vpmn": "CHNCT",
        "apn": None,
        "wholesale_charge_units": 1234,
        "wholesale_charge_decimals": 3,
        "wholesale_charge_currency": "EUR",
    }
    assert (data["apn"], data["wholesale_charge_units"], data["wholesale_charge_decimals"]) == ("cmnet", 99999, 3)
    # the amount, in code, is a Decimal from integer units: 99.999 EUR as the TAP file wrote it
    assert Decimal(data["wholesale_charge_units"]).scaleb(-data["wholesale_charge_decimals"]) == Decimal("99.999")


def test_the_shared_sample_keeps_its_sdr_charge_at_five_decimals(shared_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = tmp_path / "CDZZZAAZZZBB00001"
    path.write_bytes(commercial((shared_dir / "samples" / "cdr" / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber").read_bytes()))
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000))
    assert (rep.accepted, rep.rejected) == (1, 0)
    [row] = _lake_rows(home)
    assert {k: row[k] for k in WHOLESALE} == {
        "imsi": "001010000000001",
        "vpmn": "ZZZAA",
        "apn": None,
        "wholesale_charge_units": 25000,
        "wholesale_charge_decimals": 5,
        "wholesale_charge_currency": "XDR",
    }
    [part] = (home / "lake" / "usage").glob("period=*/*.parquet")
    assert pq.read_schema(part).names == CLEAN_USAGE_SCHEMA.names


def _gprs_part(total: int, partial: str, start: str) -> tuple[str, dict[str, Any]]:
    kind, call = gprs(total)
    info = call["gprsBasicCallInformation"]
    info["partialTypeIndicator"] = partial.encode()
    info["callEventStartTimeStamp"] = {"localTimeStamp": start.encode(), "utcTimeOffsetCode": 1}
    return kind, call


def test_gprs_partials_stitched_sum_their_wholesale_charges(tmp_path: Path) -> None:
    events = [
        _gprs_part(1000, "F", "20260301110000"),
        _gprs_part(250, "I", "20260301120000"),
        _gprs_part(5, "L", "20260301130000"),
    ]
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file(events, total=1255))
    home = tmp_path / "home"
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000), fmt="tap3")
    assert (rep.accepted, rep.rejected, rep.emitted) == (3, 0, 1)
    [row] = _lake_rows(home)
    assert (
        row["wholesale_charge_units"],
        row["wholesale_charge_decimals"],
        row["wholesale_charge_currency"],
        row["imsi"],
        row["vpmn"],
        row["apn"],
    ) == (1255, 3, "EUR", "460001234567890", "CHNCT", "cmnet")


def test_two_total_charges_in_one_charge_detail_list_are_rejected_not_summed(tmp_path: Path) -> None:
    kind, call = moc(1000)
    details = call["basicServiceUsedList"][0]["chargeInformationList"][0]["chargeDetailList"]
    details.append({"chargeType": b"00", "charge": 1000})
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([moc(7), (kind, call)], total=7 + 2000))  # the sender's total counts both
    rows, rejects = read(path)
    assert [r["tap_charge"] for r in rows] == ["0.007"]
    [rej] = rejects
    field = "basicServiceUsedList[1].chargeInformationList[1].chargeDetailList[chargeType=00]"
    assert (rej.reason, rej.field) == ("bad_value", field)
    assert f"call event 2 at byte {rej.position} (mobileOriginatedCall)" in rej.message
    assert "occurs 2 times (charges 1000, 1000)" in rej.message and "TD.57 allows one" in rej.message
    # the event still counts in the audit control check: the batch adds up and the other event is read
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home", batch_size=1000), fmt="tap3")
    assert (rep.status, rep.read, rep.accepted, rep.rejected, rep.reasons) == (
        Status.INGESTED,
        2,
        1,
        1,
        {"bad_value": 1},
    )


def _check(**columns: list[Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str | None, str]]]:
    n = len(next(iter(columns.values())))
    base = {
        "record_id": [f"r{i}" for i in range(n)],
        "msisdn": ["8613800138000"] * n,
        "kind": ["data"] * n,
        "started_at": ["2026-03-01T10:00:00+08:00"] * n,
        "bytes_down": ["10"] * n,
    }
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in {**base, **columns}.items()})
    out = validate(RawBatch(table), file="f.csv", source="s")
    clean = out.clean.select(WHOLESALE).to_pylist()
    return clean, [(r.reason, r.field, r.message) for r in out.rejects]


def test_canonical_inputs_with_and_without_the_columns() -> None:
    clean, rejects = _check(
        imsi=["460001234567890", None],
        vpmn=["HKGPP", None],
        apn=["cmnet", None],
        wholesale_charge=["0.25000", None],
        wholesale_currency=["XDR", None],
    )
    assert rejects == []
    assert clean == [
        {
            "imsi": "460001234567890",
            "vpmn": "HKGPP",
            "apn": "cmnet",
            "wholesale_charge_units": 25000,
            "wholesale_charge_decimals": 5,
            "wholesale_charge_currency": "XDR",
        },
        dict.fromkeys(WHOLESALE),
    ]
    clean, rejects = _check(bytes_up=["1"])  # an input without them: as valid as before, the columns null
    assert rejects == [] and clean == [dict.fromkeys(WHOLESALE)]


def test_a_bad_wholesale_charge_is_refused_naming_its_field() -> None:
    _, rejects = _check(
        wholesale_charge=["1.5", "abc", "-1.00", "1234567890123456789", "2.00"],
        wholesale_currency=[None, "EUR", "EUR", "EUR", "euro"],
    )
    assert [(r, f) for r, f, _ in rejects] == [
        ("missing_field", "wholesale_currency"),
        ("bad_amount", "wholesale_charge"),
        ("negative", "wholesale_charge"),
        ("out_of_range", "wholesale_charge"),
        ("bad_amount", "wholesale_currency"),
    ]
    assert "'abc'" in rejects[1][2]


def test_a_float_wholesale_charge_is_refused() -> None:
    table = pa.table(
        {
            "record_id": ["r"],
            "msisdn": ["8613800138000"],
            "kind": ["data"],
            "started_at": ["2026-03-01T10:00:00+08:00"],
            "bytes_down": ["1"],
            "wholesale_charge": pa.array([0.25]),
            "wholesale_currency": ["EUR"],
        }
    )
    out = validate(RawBatch(table), file="f.parquet", source="s")
    assert [(r.reason, r.field) for r in out.rejects] == [("bad_amount", "wholesale_charge")]


def test_canonical_csv_carries_them_to_the_lake(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "record_id,msisdn,kind,started_at,bytes_down,imsi,vpmn,wholesale_charge,wholesale_currency\n"
        "a,8613800138000,data,2026-03-01T10:00:00+08:00,5,460001234567890,HKGPP,1.20,HKD\n"
        "b,8613800138000,data,2026-03-01T11:00:00+08:00,5,,,,\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000))
    assert (rep.accepted, rep.rejected) == (2, 0)
    a, b = _lake_rows(home)
    assert (a["vpmn"], a["wholesale_charge_units"], a["wholesale_charge_decimals"], a["wholesale_charge_currency"]) == (
        "HKGPP",
        120,
        2,
        "HKD",
    )
    assert {k: b[k] for k in WHOLESALE} == dict.fromkeys(WHOLESALE)


def _old_schema() -> str:
    """SCHEMA as it was before the optional columns: the partials table without them."""
    old = SCHEMA
    for line in (
        "    imsi TEXT,\n",
        "    vpmn TEXT,\n",
        "    apn TEXT,\n",
        "    wholesale_charge_units INTEGER,\n",
        "    wholesale_charge_decimals INTEGER,\n",
        "    wholesale_charge_currency TEXT,\n",
    ):
        assert line in old
        old = old.replace(line, "")
    return old


def test_a_state_database_of_an_earlier_version_gets_the_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / "mediation" / "state.sqlite"
    state.parent.mkdir(parents=True)
    with sqlite3.connect(state) as conn:
        conn.executescript(_old_schema())
    conn.close()
    path = tmp_path / "CDCHNCTZZZBB00042"
    path.write_bytes(tap_file([_gprs_part(1000, "F", "20260301110000")], total=1000))
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000), fmt="tap3")
    assert (rep.accepted, rep.held) == (1, 1)
    with sqlite3.connect(state) as conn:
        names = {r[1] for r in conn.execute("PRAGMA table_info(partials)")}
        held = conn.execute(
            "SELECT vpmn, wholesale_charge_units, wholesale_charge_decimals, wholesale_charge_currency FROM partials"
        ).fetchall()
    conn.close()
    assert set(WHOLESALE) <= names and held == [("CHNCT", 1000, 3, "EUR")]
    [rep] = ingest_files([], settings=Settings(home=home, batch_size=1000), flush_partials=True)
    [row] = _lake_rows(home)
    assert (row["wholesale_charge_units"], row["wholesale_charge_currency"]) == (1000, "EUR")
