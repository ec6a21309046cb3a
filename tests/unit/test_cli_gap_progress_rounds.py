"""A progress step that reached its total and is stepped again with a total is a new round (the demo rates one
period after another under "rate", churn fits two models under "training folds"): it counts from 0 again, never
"rate: 7 of 1" or "training folds: 22 of 11"."""

from __future__ import annotations

import re

import pytest

from fairtel.cli import _ui


def test_rounds_of_a_step_count_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: lines.append(str(text)))
    rep = _ui.Reporter(None, False)
    for _period in range(3):
        rep.step("rate", total=1)
    for _fit in range(2):
        for _fold in range(4):
            rep.step("training folds", total=4)
    rep.close()
    counts = [(m.group(1), float(m.group(2)), float(m.group(3)))
              for m in (re.match(r"(.+): (\d+) of (\d+)", x) for x in lines) if m]
    assert counts and all(done <= total for _name, done, total in counts), lines
    assert ("rate", 1.0, 1.0) in counts and ("training folds", 4.0, 4.0) in counts
    assert not any(done > total for _n, done, total in counts)


def test_a_step_without_a_total_keeps_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: lines.append(str(text)))
    rep = _ui.Reporter(None, False)
    for _ in range(3):
        rep.step("read")
    rep.close()
    assert any(x.startswith("read: 3 (") for x in lines), lines
