"""The usage lake's schema evolves: parts written before the optional clean usage columns (``imsi``, ``vpmn``,
``apn``, the wholesale charge) and parts written with them are read together, the old rows null in the new
columns, by ``scan`` and by the DuckDB views alike; a lake of old parts only still answers for the new columns
(null), and a table written without them gets them, null. Rating a period of old and new parts rates what it
rated before."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, B, P, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_OPTIONAL, CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.store import Lake

home = base.home
OLD_SCHEMA = pa.schema([f for f in CLEAN_USAGE_SCHEMA if f.name not in CLEAN_USAGE_OPTIONAL])


def _usage(ids: list[str], **extra: object) -> pa.Table:
    rows = [
        {f.name: None for f in CLEAN_USAGE_SCHEMA}
        | {
            "record_id": i,
            "source": "sw1",
            "msisdn": "8613800138000",
            "kind": "data",
            "bytes_down": 10,
            "started_at": datetime(2026, 1, 2, 3, tzinfo=UTC),
            "parts": 1,
            "incomplete": False,
        }
        | extra
        for i in ids
    ]
    return pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA)


def _old_part(lake: Lake, period: str, part: str, table: pa.Table) -> None:
    """A part as a lake written before the optional columns holds it."""
    path = lake.part_path("usage", period, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.select(OLD_SCHEMA.names).cast(OLD_SCHEMA), path)


def test_old_and_new_parts_are_read_together(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _old_part(lake, "2026-01", "a-old", _usage(["o1"]))
    _old_part(lake, "2026-02", "a-old", _usage(["o2"]))
    lake.write(
        "usage",
        "2026-01",
        _usage(
            ["n1"],
            vpmn="HKGPP",
            wholesale_charge_units=25000,
            wholesale_charge_decimals=5,
            wholesale_charge_currency="XDR",
        ),
        part="b-new",
    )
    table = lake.scan("usage")
    assert table.schema.names == [*CLEAN_USAGE_SCHEMA.names, "period"]
    assert table.schema.field("wholesale_charge_units").type == pa.int64()
    got = {r["record_id"]: (r["vpmn"], r["wholesale_charge_units"], r["period"]) for r in table.to_pylist()}
    assert got == {"o1": (None, None, "2026-01"), "o2": (None, None, "2026-02"), "n1": ("HKGPP", 25000, "2026-01")}
    # the period of old parts only has the columns too, as nulls, in a scan of them and in DuckDB
    assert lake.scan(
        "usage", periods=["2026-02"], columns=["record_id", "vpmn", "wholesale_charge_units"]
    ).to_pylist() == [{"record_id": "o2", "vpmn": None, "wholesale_charge_units": None}]
    rows = lake.sql(
        "SELECT record_id, vpmn, wholesale_charge_units, wholesale_charge_decimals FROM usage ORDER BY record_id"
    ).to_pylist()
    assert rows == [
        {"record_id": "n1", "vpmn": "HKGPP", "wholesale_charge_units": 25000, "wholesale_charge_decimals": 5},
        {"record_id": "o1", "vpmn": None, "wholesale_charge_units": None, "wholesale_charge_decimals": None},
        {"record_id": "o2", "vpmn": None, "wholesale_charge_units": None, "wholesale_charge_decimals": None},
    ]
    total = lake.sql("SELECT sum(wholesale_charge_units) AS s FROM usage WHERE period = '2026-02'").to_pylist()
    assert total == [{"s": None}]


def test_a_lake_of_old_parts_only_answers_for_the_new_columns(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _old_part(lake, "2026-01", "a-old", _usage(["o1"]))
    assert lake.scan("usage").schema.names == [*CLEAN_USAGE_SCHEMA.names, "period"]
    assert lake.scan("usage", columns=["imsi", "apn"]).to_pylist() == [{"imsi": None, "apn": None}]
    assert lake.sql("SELECT imsi, wholesale_charge_currency FROM usage").to_pylist() == [
        {"imsi": None, "wholesale_charge_currency": None}
    ]


def test_a_table_without_the_optional_columns_is_written_with_them_null(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    path = lake.write("usage", "2026-01", _usage(["o1"]).select(OLD_SCHEMA.names), part="p")
    assert pq.read_schema(path).names == CLEAN_USAGE_SCHEMA.names
    assert lake.scan("usage", columns=["imsi"]).to_pylist() == [{"imsi": None}]


def _rate(home: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    app = open_app(home)
    try:
        counts = rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
        lines = app.lake.sql("SELECT record_id, CAST(amount_minor AS VARCHAR) AS a FROM rated ORDER BY record_id")
        return {k: v for k, v in counts.items() if isinstance(v, int)}, [
            (r["record_id"], r["a"]) for r in lines.to_pylist()
        ]
    finally:
        app.close()


def test_rating_a_period_of_old_and_new_parts_rates_as_before(home: Path) -> None:
    before = _rate(home)
    app = open_app(home)
    # a part of the period written before the optional columns, listed before the part written with them
    table = pa.Table.from_pylist([rec("w1", B, duration_s=30), rec("w2", A, duration_s=90)], schema=CLEAN_USAGE_SCHEMA)
    _old_part(app.lake, P, "0-old", table)
    app.close()
    mixed = _rate(home)
    assert mixed[1] == sorted([*before[1], *[(r, a) for r, a in mixed[1] if r in ("w1", "w2")]])
    assert {r for r, _ in mixed[1]} == {r for r, _ in before[1]} | {"w1", "w2"}
