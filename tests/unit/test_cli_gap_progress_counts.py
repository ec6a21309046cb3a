"""Plain progress lines write a count in full digits, however large: "huge.csv: 1310720 of 2000000", never
"1.31072e+06"."""

from __future__ import annotations

import pytest

from fairtel.cli import _ui


def test_a_count_past_a_million_is_written_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: lines.append(str(text)))
    rep = _ui.Reporter(None, False)
    rep.step("huge_Master.csv", advance=1_310_720, total=2_000_000)
    rep.step("huge_Master.csv", advance=689_280, total=2_000_000)
    rep.step("read", advance=12_345_678)
    rep.close()
    assert any(x.startswith("huge_Master.csv: 1310720 of 2000000 (") for x in lines), lines
    assert any(x.startswith("huge_Master.csv: 2000000 of 2000000 (") for x in lines), lines
    assert any(x.startswith("read: 12345678 (") for x in lines), lines
    assert not any("e+" in x for x in lines), lines


def test_a_fractional_count_keeps_its_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: lines.append(str(text)))
    rep = _ui.Reporter(None, False)
    rep.step("fit", advance=0.5, total=2)
    rep.close()
    assert any(x.startswith("fit: 0.5 of 2 (") for x in lines), lines
