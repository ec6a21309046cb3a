"""A period is written with ASCII digits: full-width ones (２０２６-03) are refused as every other bad period is,
not read as a month."""

from __future__ import annotations

import pytest

from fairtel.core.time import BadTimeError, Period


@pytest.mark.parametrize("text", ["２０２６-03", "2026-０３", "٢٠٢٦-03"])
def test_a_period_in_other_digits_is_refused(text: str) -> None:
    with pytest.raises(BadTimeError, match="YYYY-MM"):
        Period.parse(text)


def test_a_period_in_ascii_digits_is_read() -> None:
    assert Period.parse(" 2026-3 ").key == "2026-03"
