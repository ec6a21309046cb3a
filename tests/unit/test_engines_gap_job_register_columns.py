"""The Spark job given a register with suspended lines but no ``suspended_at`` column held all of those lines'
usage without a word (as lines suspended since a time not known), where `fairtel rate` on the home held none of it:
such a register is refused, naming the column."""

from __future__ import annotations

import polars as pl
import pytest

from fairtel.core.errors import InvalidInputError
from fairtel.engines._job import _lines


def test_suspended_lines_without_their_dates_are_refused() -> None:
    register = pl.DataFrame({"msisdn": ["8613800000001", "8613800000002"], "status": ["active", "suspended"],
                             "activated_at": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]})
    with pytest.raises(InvalidInputError) as err:
        _lines(register, source="subscribers.csv")
    assert [(p.file, p.field) for p in err.value.problems] == [("subscribers.csv", "suspended_at")]
    dated = register.with_columns(pl.Series("suspended_at", [None, "2026-02-01T00:00:00Z"]))
    lines = _lines(dated, source="subscribers.csv")
    assert lines is not None and lines["suspended_at"].null_count() == 1
    active = register.with_columns(pl.lit("active").alias("status"))
    assert _lines(active, source="subscribers.csv") is not None  # no suspended line: the column is not needed
