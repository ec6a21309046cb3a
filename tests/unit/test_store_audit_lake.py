"""The lake answers a scan for a column it does not have the same way whether or not parts exist yet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.store import Lake, LakeError


def test_unknown_column_of_an_empty_known_dataset_is_a_lake_error(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="no column nope"):  # was a bare KeyError from pyarrow
        lake.scan("usage", columns=["msisdn", "nope"])
    assert lake.scan("usage", columns=["msisdn", "period"]).num_rows == 0
    lake.write("usage", "2025-03", CLEAN_USAGE_SCHEMA.empty_table(), part="p1")
    with pytest.raises(LakeError, match="no column nope"):
        lake.scan("usage", columns=["msisdn", "nope"])


def test_unknown_column_of_an_empty_free_dataset_reads_nothing(tmp_path: Path) -> None:
    out = Lake(tmp_path).scan("findings", columns=["a"])
    assert out.num_rows == 0 and out.column_names == ["a"]
    assert isinstance(out.schema.field("a").type, pa.DataType)
