"""Rated lines with the catalog's names coded (``rate(coded=True)``, what the batch engine writes): the same lines,
the same values, and once written and read back the very frame the string path writes, with plain string columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.unit.test_consent_gap_same_month import M1, RESUBSCRIBED, subs_of
from tests.unit.test_engines_gap_direct_buckets import usage

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.engines._buckets import write_part
from fairtel.engines._kernels import rate_group
from fairtel.rating import RATED_COLUMNS, consent_gate, rate
from fairtel.rating._rate import CODED_COLUMNS

CATALOG = load_catalog(default_catalog_path())
NUMBERS = [M1, *(f"86138000{i:05d}" for i in range(40)), "+8613900000001"]
PLANS = ("basic-39", "unlimited-129", "payg", "senior-19", "gone-plan")


def _register() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": NUMBERS[:-1], "plan_id": [PLANS[i % len(PLANS)] for i in range(len(NUMBERS) - 1)]})


def _gate() -> object:
    lines = pl.DataFrame({
        "msisdn": [NUMBERS[1], NUMBERS[2]], "status": ["suspended", "closed"],
        "suspended_at": [datetime(2026, 3, 10, tzinfo=UTC), None], "closed_at": [None, datetime(2026, 3, 20, tzinfo=UTC)],
    })
    return consent_gate(subs_of(RESUBSCRIBED), CATALOG, lines=lines)


@pytest.mark.parametrize("seed", [1, 2])
def test_coded_lines_are_the_string_lines(seed: int) -> None:
    records = usage(seed, 4000, NUMBERS).with_columns(
        # some records say which way with words rating does not know: direction then stays a string column
        pl.when(pl.col("record_id").str.ends_with("7") & pl.col("direction").is_not_null()).then(pl.lit("fwd"))
        .otherwise(pl.col("direction")).alias("direction") if seed == 2 else pl.col("direction"))
    gate = _gate()
    plain = rate(records, CATALOG, _register(), period="2026-03", gate=gate)  # type: ignore[arg-type]
    coded = rate(records, CATALOG, _register(), period="2026-03", gate=gate, coded=True)  # type: ignore[arg-type]
    assert plain.rated.height > 2000 and plain.rated["verdict"].drop_nulls().len() > 0
    assert set(plain.rated["kind"].unique().to_list()) >= {"voice", "sms", "data", "vas"}
    enums = {c for c, t in coded.rated.schema.items() if isinstance(t, pl.Enum)}
    expected = set(CODED_COLUMNS) - ({"direction"} if seed == 2 else set())
    assert enums == expected
    assert all(plain.rated.schema[c] == pl.String for c in CODED_COLUMNS)
    assert_frame_equal(coded.rated.cast(RATED_COLUMNS), plain.rated)  # type: ignore[arg-type]
    assert_frame_equal(coded.unrated, plain.unrated)
    assert_frame_equal(coded.closing_state, plain.closing_state)


def test_a_coded_part_reads_back_as_the_string_part(tmp_path: Path) -> None:
    records = usage(3, 3000, NUMBERS)
    gate = _gate()
    plain, _ = rate_group(records, catalog=CATALOG, period="2026-03", gate=gate, subscribers=_register())  # type: ignore[arg-type]
    coded, _ = rate_group(records, catalog=CATALOG, period="2026-03", gate=gate, subscribers=_register(),  # type: ignore[arg-type]
                          coded=True)
    assert any(isinstance(t, pl.Enum) for t in coded.schema.values())
    write_part(plain, tmp_path / "plain.parquet")
    write_part(coded, tmp_path / "coded.parquet")
    back = pl.read_parquet(tmp_path / "coded.parquet")
    assert dict(back.schema) == RATED_COLUMNS  # plain strings for every reader, no enum
    assert_frame_equal(back, pl.read_parquet(tmp_path / "plain.parquet"))
    # the columns readers filter by keep their statistics
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(tmp_path / "coded.parquet").metadata.row_group(0)
    names = [meta.column(i).path_in_schema for i in range(meta.num_columns)]
    assert meta.column(names.index("msisdn")).statistics is not None
    assert meta.column(names.index("started_at")).statistics is not None
