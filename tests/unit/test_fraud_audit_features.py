"""Fraud features and detectors on the awkward parts of real usage: withheld numbers, records without cell ids,
exempt lists written the way people write numbers, the operator's own clock, and the export's keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.fraud import compute_features, detect_simbox, detect_wangiri, score_lines, train_fraud_model
from fairtel.learn import TrainOptions

MONDAY = datetime(2026, 9, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
_ids = count()


def rec(msisdn: str, kind: str, direction: str | None, at: datetime, *, peer: str | None = None, dur: int | None = None,
        cell: str | None = "460-00-10001", imei: str | None = None) -> dict[str, Any]:
    return {
        "record_id": f"a{next(_ids):08d}", "source": "test", "msisdn": msisdn, "kind": kind, "direction": direction,
        "started_at": at.astimezone(UTC), "duration_s": dur, "bytes_up": None, "bytes_down": None, "peer": peer,
        "roaming_country": None, "cell_id": cell, "imei": imei if imei is not None else f"35{msisdn[-12:]}",
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={
        "record_id": pl.String, "source": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
        "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_up": pl.Int64, "bytes_down": pl.Int64,
        "peer": pl.String, "roaming_country": pl.String, "cell_id": pl.String, "imei": pl.String,
    })


def mobile(i: int) -> str:
    return f"86139{i:08d}"


def simbox_group(lines: list[str], imei: str, *, cell: str | None = "460-00-20161") -> list[dict[str, Any]]:
    """Lines in one device calling 60 new numbers a day, around the clock, Thursday to Sunday."""
    rows = []
    n = count(1)
    for msisdn in lines:
        for d in range(4):
            day = MONDAY + timedelta(days=3 + d)
            for k in range(60):
                rows.append(rec(msisdn, "voice", "out", day + timedelta(hours=7, seconds=k * 1000),
                                peer=mobile(next(n) + 10_000_000), dur=70 if k % 5 else 0, cell=cell, imei=imei))
        rows.append(rec(msisdn, "voice", "in", MONDAY + timedelta(days=4, hours=12), peer=mobile(5), dur=30, cell=cell,
                        imei=imei))
    return rows


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _line(f: pl.DataFrame, msisdn: str) -> dict[str, object]:
    return f.filter(pl.col("msisdn") == msisdn).row(0, named=True)


# ------------------------------------------------------------------------------------------ withheld numbers
def test_withheld_numbers_are_not_a_distinct_caller_or_callee(catalog: Catalog) -> None:
    line = mobile(1)
    rows = [rec(line, "voice", "in", MONDAY + timedelta(hours=9 + k), peer=None, dur=40) for k in range(4)]  # withheld
    rows += [rec(line, "voice", "in", MONDAY + timedelta(hours=14), peer=mobile(50), dur=40)]
    rows += [rec(line, "voice", "out", MONDAY + timedelta(hours=15), peer=None, dur=40)]  # no other party recorded
    rows += [rec(line, "voice", "out", MONDAY + timedelta(hours=16 + k), peer=mobile(60 + k), dur=40) for k in range(2)]
    f = _line(compute_features(frame(rows), catalog=catalog).lines, line)
    assert f["calls_in"] == 5 and f["calls_out"] == 3  # every call still counts as a call
    assert f["distinct_callers"] == 1  # mobile(50); the withheld callers are no number
    assert f["distinct_callees"] == 2
    assert f["callee_diversity"] == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------------ missing cell ids
def test_no_cell_ids_is_not_evidence_of_one_fixed_place(catalog: Catalog) -> None:
    with_cells, without = [mobile(1), mobile(3)], [mobile(2), mobile(4)]  # two SIMs in each device
    rows = simbox_group(with_cells, "356938037867562") + simbox_group(without, "356938037867999", cell=None)
    lines = compute_features(frame(rows), catalog=catalog).lines
    assert _line(lines, mobile(2))["distinct_cells"] == 0
    cases = {c.subject: c for c in detect_simbox(lines, period=PERIOD, now=NOW)}
    assert "fixed_cell" in {r.code for r in cases[mobile(1)].reasons}
    # the same traffic, but the feed carries no cell ids: nothing says the line stayed in one place
    assert mobile(2) in cases
    assert "fixed_cell" not in {r.code for r in cases[mobile(2)].reasons}
    assert not any("0 cell" in r.en for r in cases[mobile(2)].reasons)
    assert cases[mobile(2)].score < cases[mobile(1)].score


# ------------------------------------------------------------------------------------------ exempt numbers
def test_exempt_numbers_written_with_plus_or_blanks_open_no_case(catalog: Catalog) -> None:
    lines = compute_features(frame(simbox_group([mobile(1), mobile(2)], "356938037867562")), catalog=catalog).lines
    cases = detect_simbox(lines, period=PERIOD, now=NOW, exempt={f"+{mobile(1)}", f" {mobile(2)}\n"})
    assert cases == []


def test_exempt_wangiri_number_written_with_plus_opens_no_case(catalog: Catalog) -> None:
    wangiri = "371298765432"
    rows = [rec(mobile(100 + k), "voice", "in", MONDAY + timedelta(hours=2, minutes=k), peer=wangiri, dur=0)
            for k in range(12)]
    f = compute_features(frame(rows), catalog=catalog)
    assert [c.subject for c in detect_wangiri(f.callers, f.callbacks, period=PERIOD, now=NOW)[0]] == [wangiri]
    assert detect_wangiri(f.callers, f.callbacks, period=PERIOD, now=NOW, exempt={f"+{wangiri}"}) == ([], [])


# ------------------------------------------------------------------------------------------ operator's clock
def test_without_a_config_the_features_read_the_catalog_operators_clock(catalog: Catalog) -> None:
    london = replace(catalog, operator=replace(catalog.operator, timezone="Europe/London"))
    local = datetime(2026, 9, 7, tzinfo=ZoneInfo("Europe/London"))  # a Monday in London
    # 01:00 (night), 10:00 (office hours) and 23:00 on the same London day
    rows = [rec(mobile(1), "voice", "out", local + timedelta(hours=h), peer=mobile(50 + h), dur=30) for h in (1, 10, 23)]
    f = compute_features(frame(rows), catalog=london).lines.row(0, named=True)
    assert f["active_days"] == 1
    assert f["night_share"] == pytest.approx(1 / 3)
    assert f["office_hours_share"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------------ model keys
def test_the_line_number_of_a_features_export_is_never_a_feature() -> None:
    """An export of two periods lists each line twice: its number is the id, not a number to learn from."""
    rng = np.random.default_rng(1)
    n = 40
    numbers = [f"8613800{i:06d}" for i in range(n)]
    fraud = [int(i % 4 == 0) for i in range(n)]
    rows = {
        "msisdn": numbers * 2,
        "period": ["2026-09"] * n + ["2026-10"] * n,
        "callee_diversity": [f"{(0.8 if y else 0.3) + rng.normal(0, 0.15):.3f}" for y in fraud * 2],
        "calls_out": [f"{rng.integers(5, 80)}.0" for _ in range(2 * n)],
        "fraud": [str(y) for y in fraud * 2],
    }
    opts = TrainOptions(folds=3, learning_rate=0.1, max_rounds=40, early_stopping=10, search=False, bag=1,
                        blend_linear=False)
    model = train_fraud_model(pl.DataFrame(rows), label="fraud", options=opts)
    assert "msisdn" not in model.spec.names and "period" not in model.spec.names
    assert model.spec.id_column == "msisdn"
    # and scoring a table of the same layout needs no msisdn feature
    table = pl.DataFrame({"msisdn": ["8613899999999"], "callee_diversity": [0.9], "calls_out": [40.0]})
    scores, cases = score_lines(model, table, period="2026-11", now=NOW, threshold=0.0)
    assert [s.msisdn for s in scores] == ["8613899999999"] and len(cases) == 1
    # an exempt line written with a "+" is scored but opens no case
    scores, cases = score_lines(model, table, period="2026-11", now=NOW, threshold=0.0, exempt={"+8613899999999"})
    assert len(scores) == 1 and not scores[0].flagged and cases == []


def test_exempt_files_read_numbers_with_plus_and_comments(tmp_path: Path) -> None:
    from fairtel.cli._fraud_detect import _exempt

    listed = tmp_path / "exempt.txt"
    listed.write_text("# partner call centres\n+8613800138000  # partner A\n 8613800138001\n\n", encoding="utf-8")
    assert _exempt([str(listed), "+8613800138002"]) == {"8613800138000", "8613800138001", "8613800138002"}
