"""Fraud features on usage that did not go through ingest: a record repeated under its dedup key (source,
record_id) counts once, so a resent or twice-loaded file cannot double a line's evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.fraud import compute_features, detect_simbox, detect_wangiri

MONDAY = datetime(2026, 9, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
_ids = count()
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "record_id": pl.String, "source": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
    "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_up": pl.Int64, "bytes_down": pl.Int64,
    "peer": pl.String, "roaming_country": pl.String, "cell_id": pl.String, "imei": pl.String,
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def rec(msisdn: str, direction: str, at: datetime, *, peer: str, dur: int, imei: str | None = None,
        source: str = "msc-1") -> dict[str, Any]:
    return {
        "record_id": f"d{next(_ids):08d}", "source": source, "msisdn": msisdn, "kind": "voice", "direction": direction,
        "started_at": at.astimezone(UTC), "duration_s": dur, "bytes_up": None, "bytes_down": None, "peer": peer,
        "roaming_country": None, "cell_id": "460-00-20161", "imei": imei or f"35{msisdn[-12:]}",
    }


def mobile(i: int) -> str:
    return f"86139{i:08d}"


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


def half_simbox(lines: list[str], imei: str) -> list[dict[str, Any]]:
    """Lines in one device calling 30 new numbers a day: half of the SIM-box threshold of 40 a day."""
    rows = []
    n = count(1)
    for msisdn in lines:
        for d in range(4):
            day = MONDAY + timedelta(days=3 + d)
            rows += [rec(msisdn, "out", day + timedelta(hours=7, seconds=k * 1500), peer=mobile(next(n) + 10_000_000),
                         dur=70 if k % 5 else 0, imei=imei) for k in range(30)]
    return rows


def wangiri(targets: list[str], number: str) -> list[dict[str, Any]]:
    rows = [rec(m, "in", MONDAY + timedelta(hours=2, minutes=k), peer=number, dur=k % 3) for k, m in enumerate(targets)]
    rows.append(rec(targets[0], "out", MONDAY + timedelta(hours=8), peer=number, dur=95))  # a victim calls back
    return rows


def test_a_resent_file_does_not_double_the_simbox_evidence(catalog: Catalog) -> None:
    box = [mobile(1), mobile(2)]
    rows = half_simbox(box, "356938037867562")
    once = compute_features(frame(rows), catalog=catalog).lines
    twice = compute_features(frame(rows + rows), catalog=catalog).lines
    assert once.filter(pl.col("msisdn") == box[0])["calls_out_per_day"][0] == 30
    assert twice.equals(once)
    # 30 calls a day stay under the threshold: the copies would have made it 60 and opened two cases
    assert detect_simbox(twice, period=PERIOD, now=NOW) == []


def test_copies_do_not_count_toward_wangiri_or_callbacks(catalog: Catalog) -> None:
    number = "371298765432"  # the premium zone
    targets = [mobile(100 + k) for k in range(12)]
    rows = wangiri(targets, number)
    once = compute_features(frame(rows), catalog=catalog)
    copies = rows + [dict(r) for r in rows[::2]] + [dict(rows[-1])]  # some records resent, the callback twice more
    twice = compute_features(frame(copies), catalog=catalog)
    assert twice.callers.equals(once.callers)
    assert twice.callbacks.equals(once.callbacks) and twice.callbacks.height == 1
    assert twice.lines.equals(once.lines)
    caller = twice.callers.filter(pl.col("peer") == number).row(0, named=True)
    assert caller["calls"] == 12 and caller["one_ring_calls"] == 12
    cases, notices = detect_wangiri(twice.callers, twice.callbacks, period=PERIOD, now=NOW)
    assert cases[0].evidence["callbacks"] == 1 and len(notices) == 1


def test_only_the_same_key_on_the_same_line_is_a_copy(catalog: Catalog) -> None:
    line, other = mobile(7), mobile(8)
    first = rec(line, "out", MONDAY + timedelta(hours=10), peer=mobile(50), dur=60)
    same_id_other_source = {**first, "source": "msc-2"}  # another switch numbers its records itself
    same_id_other_line = {**first, "msisdn": other}
    no_id = [{**rec(line, "out", MONDAY + timedelta(hours=11), peer=mobile(51), dur=60), "record_id": None}] * 2
    rows = [first, dict(first), same_id_other_source, same_id_other_line, *no_id]
    lines = compute_features(frame(rows), catalog=catalog).lines
    calls = dict(zip(lines["msisdn"], lines["calls_out"], strict=True))
    # the copy of `first` is dropped; another source's record and another line's are records of their own; rows
    # without a record id name no record and are all kept
    assert calls == {line: 4, other: 1}


def test_copies_give_the_same_features_in_chunks(catalog: Catalog) -> None:
    rows = half_simbox([mobile(1), mobile(2), mobile(3)], "356938037867562") + wangiri([mobile(100 + k) for k in range(12)],
                                                                                    "371298765432")
    doubled = frame(rows + rows[::3])
    one = compute_features(doubled, catalog=catalog)
    three = compute_features(doubled.lazy(), catalog=catalog, chunks=3)
    assert one.lines.equals(three.lines) and one.callbacks.equals(three.callbacks)
    assert one.lines.equals(compute_features(frame(rows), catalog=catalog).lines)
