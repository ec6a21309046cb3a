"""A roaming country is checked against ISO 3166-1 alpha-2, not only its shape: ``XX`` would otherwise be priced
as roaming in the catalog's fallback zone. Every code a catalog's roaming zone may name is accepted, and ``ZZ``,
the explicit "unknown country" (a TAP file from a network that is no country)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from fairtel.catalog._countries import COUNTRIES
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.mediation import Reason, validate
from fairtel.mediation.readers import RawBatch

GOOD: dict[str, Any] = {"record_id": "r1", "msisdn": "8613800138000", "kind": "voice", "direction": "out",
                        "started_at": "2026-11-01T08:00:00+08:00", "duration_s": "60", "peer": "8613900139000"}


def batch(rows: list[dict[str, Any]], kind: pa.DataType = pa.string()) -> RawBatch:
    cols = {f: pa.array([r.get(f) for r in rows], kind if f == "roaming_country" else pa.string())
            for f in USAGE_FIELDS}
    cols["_pos"] = pa.array(range(1, len(rows) + 1), pa.int64())
    return RawBatch(pa.table(cols))


@pytest.mark.parametrize("code", ["XX", "QM", "AA", "UK", "EU", "hk", "Hk"])
def test_an_unassigned_country_code_is_refused_with_its_reason(code: str) -> None:
    v = validate(batch([GOOD | {"roaming_country": code}]), file="f.csv", source="feed")
    assert v.clean.num_rows == 0
    [rej] = v.rejects
    assert (rej.reason, rej.field, rej.position) == (Reason.BAD_VALUE.value, "roaming_country", 1)
    assert "ISO 3166-1 alpha-2" in rej.message and repr(code) in rej.message


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())])
def test_every_code_a_catalog_may_name_is_accepted(kind: pa.DataType) -> None:
    """The catalog refuses a roaming zone naming anything outside its list (ISO codes plus XK, which roaming
    agreements use for Kosovo): each of them, and only them, passes."""
    codes = sorted(COUNTRIES)
    rows = [GOOD | {"record_id": f"r{i}", "roaming_country": c} for i, c in enumerate(codes)]
    rows += [GOOD | {"record_id": "none"}, GOOD | {"record_id": "zz", "roaming_country": "ZZ"},
             GOOD | {"record_id": "xx", "roaming_country": "XX"}]
    values = pa.array([r.get("roaming_country") for r in rows], pa.string())
    b = batch(rows)
    b.table = b.table.set_column(b.table.schema.get_field_index("roaming_country"), "roaming_country",
                                 values.dictionary_encode() if pa.types.is_dictionary(kind) else values.cast(kind))
    v = validate(b, file="f.csv", source="feed")
    assert [r.position for r in v.rejects] == [len(rows)]
    assert v.clean.column("roaming_country").to_pylist() == [*codes, None, "ZZ"]
    assert "XK" in COUNTRIES and "ZZ" not in COUNTRIES
