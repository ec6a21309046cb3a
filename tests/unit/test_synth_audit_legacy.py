"""The legacy GBK file: every record belongs to a line that is in service at that record's time."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np

from fairtel.core.time import parse_rfc3339
from fairtel.synth._population import Window, build_population
from fairtel.synth._run import _write_legacy


def test_gbk_records_fall_inside_their_own_line_service(tmp_path: Path) -> None:
    window = Window.of(date(2026, 9, 1), 20)
    pop = build_population(np.random.default_rng(1), 6000, window)
    # A third of the lines start on the last day, a third stop after the second day: a record handed another
    # line's time lands before an activation or after a stop.
    late, early = np.arange(0, 6000, 3), np.arange(1, 6000, 3)
    pop.first_day[late] = 19
    pop.activated_at[late] = window.day_start[19] + 15 * 3600
    pop.until_day[early] = 2
    (tmp_path / "usage").mkdir()

    n, truth = _write_legacy(tmp_path, np.random.default_rng(2), pop, window)

    text = (tmp_path / "usage" / "msc-03-legacy-gbk.csv").read_bytes().decode("gbk")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == len(rows) == truth.height > 50
    index = {str(m): i for i, m in enumerate(pop.msisdn)}
    times = []
    for r in rows:
        i = index[r["msisdn"]]
        at = parse_rfc3339(r["started_at"]).timestamp()
        assert at >= pop.activated_at[i], r  # not before the line was activated
        assert at < window.day_start[pop.until_day[i]], r  # not after it stopped
        assert pop.simbox[i] < 0
        times.append(at)
    assert times == sorted(times)  # still written in time order
    assert truth["record_id"].to_list() == [r["record_id"] for r in rows]
