"""Validation: each reason code, typed output, money without floats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA, USAGE_FIELDS
from fairtel.mediation import Reason, validate
from fairtel.mediation.readers import RawBatch, Reject

GOOD: dict[str, Any] = {"record_id": "r1", "msisdn": "8613800138000", "kind": "voice", "direction": "out",
        "started_at": "2026-11-01T08:00:00+08:00", "duration_s": "60", "peer": "8613900139000"}


def batch(rows: list[dict[str, Any]], *, types: dict[str, pa.DataType] | None = None) -> RawBatch:
    cols = {f: pa.array([r.get(f) for r in rows], (types or {}).get(f, pa.string())) for f in USAGE_FIELDS}
    cols["_pos"] = pa.array(range(1, len(rows) + 1), pa.int64())
    return RawBatch(pa.table(cols))


def one(row: dict[str, Any]) -> tuple[dict[str, Any] | None, Reject | None]:
    v = validate(batch([row]), file="f.csv", source="feed")
    assert v.clean.num_rows + len(v.rejects) == 1
    return (v.clean.to_pylist()[0] if v.clean.num_rows else None), (v.rejects[0] if v.rejects else None)


def test_good_voice_record_is_typed() -> None:
    rec, rej = one(GOOD)
    assert rej is None and rec is not None
    assert rec["started_at"] == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert rec["duration_s"] == 60 and rec["source"] == "feed" and rec["parts"] == 1 and rec["incomplete"] is False


def test_clean_schema_is_the_contract() -> None:
    v = validate(batch([GOOD]), file="f", source="s")
    assert v.clean.select(CLEAN_USAGE_SCHEMA.names).schema.equals(CLEAN_USAGE_SCHEMA, check_metadata=False)


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"record_id": None}, Reason.MISSING_FIELD, "record_id"),
        ({"record_id": ""}, Reason.MISSING_FIELD, "record_id"),
        ({"record_id": "x" * 129}, Reason.BAD_VALUE, "record_id"),
        ({"msisdn": None}, Reason.MISSING_FIELD, "msisdn"),
        ({"msisdn": "861 380"}, Reason.BAD_NUMBER, "msisdn"),
        ({"kind": "fax"}, Reason.BAD_KIND, "kind"),
        ({"started_at": "2026-11-01T08:00:00"}, Reason.BAD_TIMESTAMP, "started_at"),
        ({"started_at": "01/11/2026 08:00"}, Reason.BAD_TIMESTAMP, "started_at"),
        ({"started_at": "1970-01-01T00:00:00Z"}, Reason.BAD_TIMESTAMP, "started_at"),
        ({"direction": "sideways"}, Reason.BAD_VALUE, "direction"),
        ({"direction": None}, Reason.MISSING_FIELD, "direction"),
        ({"peer": None}, Reason.MISSING_FIELD, "peer"),
        ({"peer": "a b"}, Reason.BAD_NUMBER, "peer"),
        ({"duration_s": "1.5"}, Reason.BAD_VALUE, "duration_s"),
        ({"duration_s": "-3"}, Reason.NEGATIVE, "duration_s"),
        ({"duration_s": str(8 * 86400)}, Reason.OUT_OF_RANGE, "duration_s"),
        ({"duration_s": None}, Reason.MISSING_FIELD, "duration_s"),
        ({"roaming_country": "jpn"}, Reason.BAD_VALUE, "roaming_country"),
        ({"seq": "x"}, Reason.BAD_VALUE, "seq"),
        ({"seq": "-1"}, Reason.NEGATIVE, "seq"),
        ({"final": "maybe"}, Reason.BAD_VALUE, "final"),
    ],
)
def test_each_reason_names_the_field(change: dict[str, Any], reason: Reason, field: str) -> None:
    rec, rej = one(GOOD | change)
    assert rec is None and rej is not None
    assert (rej.reason, rej.field) == (reason.value, field)
    assert rej.position == 1 and field in rej.message


def test_range_checks_at_their_bounds_in_one_batch() -> None:
    """Values at the bounds pass and one past them is refused, beside good rows and absent values (the batch's
    minimum and maximum decide when a row-by-row check is needed)."""
    rows = [
        GOOD | {"record_id": "ok-max", "duration_s": str(7 * 86400), "started_at": "2099-12-31T23:59:59.999999Z"},
        GOOD | {"record_id": "ok-min", "duration_s": "0", "started_at": "2000-01-01T00:00:00Z"},
        GOOD | {"record_id": "long", "duration_s": str(7 * 86400 + 1)},
        GOOD | {"record_id": "late", "started_at": "2100-01-01T00:00:00Z"},
        GOOD | {"record_id": "early", "started_at": "1999-12-31T23:59:59Z"},
        GOOD | {"record_id": "neg-seq", "seq": "-1", "session_id": "s"},
        GOOD | {"record_id": "seq", "seq": "0", "session_id": "s"},
        {"record_id": "d", "msisdn": "8613800138000", "kind": "data", "started_at": "2026-11-01T08:00:00Z",
         "bytes_up": str(1 << 40), "bytes_down": None},
        {"record_id": "d-big", "msisdn": "8613800138000", "kind": "data", "started_at": "2026-11-01T08:00:00Z",
         "bytes_up": "1", "bytes_down": str((1 << 40) + 1)},
        {"record_id": "d-neg", "msisdn": "8613800138000", "kind": "data", "started_at": "2026-11-01T08:00:00Z",
         "bytes_up": "-1", "bytes_down": "5"},
    ]
    v = validate(batch(rows), file="f.csv", source="feed", now=datetime(2099, 12, 31, tzinfo=UTC))
    assert sorted(v.clean.column("record_id").to_pylist()) == ["d", "ok-max", "ok-min", "seq"]
    by_id = {rows[r.position - 1]["record_id"]: (r.reason, r.field) for r in v.rejects}
    assert by_id == {"long": ("out_of_range", "duration_s"), "late": ("bad_timestamp", "started_at"),
                     "early": ("bad_timestamp", "started_at"), "neg-seq": ("negative", "seq"),
                     "d-big": ("out_of_range", "bytes_down"), "d-neg": ("negative", "bytes_up")}
    v = validate(batch([GOOD, GOOD | {"record_id": "no-ts", "started_at": None}]), file="f.csv", source="feed")
    assert v.clean.column("record_id").to_pylist() == ["r1"]
    assert [(r.reason, r.field) for r in v.rejects] == [("missing_field", "started_at")]


DATA = {"record_id": "d1", "msisdn": "8613800138000", "kind": "data", "started_at": "2026-11-01T08:00:00Z"}
VAS = {"record_id": "v1", "msisdn": "8613800138000", "kind": "vas", "started_at": "2026-11-01T08:00:00Z",
       "offer_id": "vas-horoscope-6", "amount": "6.00", "currency": "CNY"}


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        (DATA, Reason.MISSING_FIELD, "bytes_down"),
        (DATA | {"bytes_up": "-1"}, Reason.NEGATIVE, "bytes_up"),
        (DATA | {"bytes_down": str(1 << 41)}, Reason.OUT_OF_RANGE, "bytes_down"),
        (DATA | {"bytes_down": "12kB"}, Reason.BAD_VALUE, "bytes_down"),
        (VAS | {"offer_id": None}, Reason.MISSING_FIELD, "offer_id"),
        (VAS | {"amount": None}, Reason.MISSING_FIELD, "amount"),
        (VAS | {"amount": "6,00"}, Reason.BAD_AMOUNT, "amount"),
        (VAS | {"amount": "1e3"}, Reason.BAD_AMOUNT, "amount"),
        (VAS | {"amount": "-6.00"}, Reason.NEGATIVE, "amount"),
        (VAS | {"amount": "6.005"}, Reason.BAD_AMOUNT, "amount"),
        (VAS | {"currency": "XYZ"}, Reason.BAD_AMOUNT, "currency"),
        (VAS | {"currency": None}, Reason.MISSING_FIELD, "currency"),
    ],
)
def test_data_and_vas_rules(row: dict[str, Any], reason: Reason, field: str) -> None:
    _, rej = one(row)
    assert rej is not None and (rej.reason, rej.field) == (reason.value, field)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("6.00", "CNY", 600), ("6", "CNY", 600), ("0.5", "CNY", 50), ("6.000", "CNY", 600), ("1200", "JPY", 1200),
     ("1.234", "KWD", 1234), ("999999999999.99", "CNY", 99999999999999), ("0.10", "USD", 10)],
)
def test_amounts_become_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    rec, rej = one(VAS | {"amount": amount, "currency": currency})
    assert rej is None and rec is not None
    assert rec["amount_minor"] == minor and rec["currency"] == currency


def test_float_amount_column_is_refused() -> None:
    rows = [VAS | {"amount": 6.0}]
    v = validate(batch(rows, types={"amount": pa.float64()}), file="f", source="s")
    assert v.clean.num_rows == 0 and v.rejects[0].reason == "bad_amount"


def test_native_parquet_types_are_accepted() -> None:
    ts = pa.timestamp("us", tz="Asia/Shanghai")
    rows = [GOOD | {"started_at": datetime(2026, 11, 1, 0, 0, tzinfo=UTC), "duration_s": 60}]
    v = validate(batch(rows, types={"started_at": ts, "duration_s": pa.int32()}), file="f", source="s")
    assert v.rejects == []
    assert v.clean.column("started_at")[0].as_py() == datetime(2026, 11, 1, tzinfo=UTC)


def test_naive_native_timestamps_are_refused() -> None:
    rows = [GOOD | {"started_at": datetime(2026, 11, 1, 8, 0)}]
    v = validate(batch(rows, types={"started_at": pa.timestamp("us")}), file="f", source="s")
    assert [r.reason for r in v.rejects] == ["bad_timestamp"] and "time zone" in v.rejects[0].message


def test_lenient_forms_are_normalised() -> None:
    rec, rej = one(GOOD | {"kind": " Voice", "msisdn": "+8613800138000", "duration_s": " 60 ",
                           "started_at": "2026-11-01 08:00:00.123456789+08:00"})
    assert rej is None and rec is not None
    assert (rec["kind"], rec["msisdn"], rec["duration_s"]) == ("voice", "8613800138000", 60)
    assert rec["started_at"].microsecond == 123456


def test_pbx_extensions_and_sip_users_are_numbers_too() -> None:
    rec, rej = one(GOOD | {"msisdn": "client1", "peer": "&"})
    assert rej is None and rec is not None and rec["msisdn"] == "client1"


def test_first_failing_check_wins_and_batch_keeps_order() -> None:
    rows = [GOOD | {"record_id": None, "started_at": "bad"}, GOOD | {"record_id": "ok"}, GOOD | {"kind": "x"}]
    v = validate(batch(rows), file="f", source="s")
    assert [(r.position, r.reason) for r in v.rejects] == [(1, "missing_field"), (3, "bad_kind")]
    assert v.clean.column("_pos").to_pylist() == [2]


def test_reject_raw_comes_from_the_raw_column_or_row_json() -> None:
    b = batch([GOOD | {"kind": "x"}])
    with_raw = RawBatch(b.table.append_column("_raw", pa.array([b"original,line"], pa.binary())))
    assert validate(with_raw, file="f", source="s").rejects[0].raw == b"original,line"
    assert b'"kind": "x"' in validate(b, file="f", source="s").rejects[0].raw


def test_data_record_missing_one_direction_counts_zero() -> None:
    rec, rej = one(DATA | {"bytes_down": "100"})
    assert rej is None and rec is not None and (rec["bytes_up"], rec["bytes_down"]) == (0, 100)


def test_a_batch_at_an_offset_validates_like_a_fresh_one() -> None:
    """Masks are read from Arrow bitmaps and offsets: a sliced batch (buffers shared, offset not zero) must
    give exactly what a copy of it gives."""
    variants: list[dict[str, Any]] = [
        GOOD, {**GOOD, "record_id": None}, {**GOOD, "kind": " SMS "}, {**GOOD, "kind": "fax"},
        {**GOOD, "direction": ""}, {**GOOD, "msisdn": "+8613800138000"}, {**GOOD, "msisdn": "bad number!"},
        {**GOOD, "peer": None}, {**GOOD, "duration_s": "-1"}, {**GOOD, "duration_s": "x"},
        {**GOOD, "kind": "data", "duration_s": None, "bytes_up": "5"},
        {**GOOD, "kind": "vas", "offer_id": "o", "amount": "6.00", "currency": "CNY"},
        {**GOOD, "started_at": "yesterday"}, {**GOOD, "record_id": "x" * 200},
    ]
    rows: list[dict[str, Any]] = []
    for i in range(200):
        row = dict(variants[(i * 7) % len(variants)])
        if row["record_id"] == GOOD["record_id"]:
            row["record_id"] = f"r{i}"  # distinct ids; the missing and the over-long ones stay as they are
        rows.append(row)
    whole = batch(rows)
    for lo in (0, 3, 9, 61):
        part = RawBatch(whole.table.slice(lo, 120))
        fresh = RawBatch(pa.Table.from_pylist(part.table.to_pylist(), schema=part.table.schema))
        a, b = validate(part, file="f", source="s"), validate(fresh, file="f", source="s")
        assert a.clean.to_pylist() == b.clean.to_pylist()
        assert a.rejects == b.rejects
