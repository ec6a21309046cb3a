"""A SIM-box case names the other lines seen in its line's device (``related``: the box's other SIMs) as its
``sims_per_imei`` counts them: over the case line's own holding (过户: an owner change, ``holder_since``). A line
last seen in the device before the case line changed hands was not in the box beside its current customer, and a
device the case line was last seen in before then was its previous customer's. ``detect`` reads when each pair was
last seen (``last_at``, as ``device_pairs`` and both engines pair them). Before: every pair of the period related,
whenever it was seen, so the new customer's case named lines of the previous customer's box."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.fraud import detect_simbox

NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
CHANGED = datetime(2026, 9, 15, 1, tzinfo=UTC)  # the case line moved to its current customer
BOX, OLD_BOX = "861234500000001", "861234500000002"
LINE, BESIDE, BEFORE, FRESH = "8613900000001", "8613900000002", "8613900000003", "8613900000004"
UTC_US = pl.Datetime("us", "UTC")


def _lines(holder_since: datetime | None) -> pl.DataFrame:
    """One line that meets every SIM-box condition (activated long ago; changed hands on ``holder_since``)."""
    return pl.DataFrame({
        "msisdn": [LINE], "calls_out": [3000], "calls_in": [10], "calls_out_per_day": [200.0], "out_in_ratio": [300.0],
        "callee_diversity": [0.95], "sms_per_day": [0.0], "data_sessions_per_day": [0.0], "distinct_cells": [1],
        "distinct_imeis": [1], "sims_per_imei": [2], "callback_share": [0.0], "office_hours_share": [0.3],
        "activated_at": [datetime(2024, 1, 1, tzinfo=UTC)], "holder_since": [holder_since],
    }, schema_overrides={"activated_at": UTC_US, "holder_since": UTC_US})


def _pairs() -> pl.DataFrame:
    """(imei, msisdn, last_at): the case line in the box since the change, and in another device only before it;
    ``BESIDE`` in the box after the change, ``BEFORE`` only before it, ``FRESH`` in the old device before it."""
    rows = [
        (BOX, LINE, CHANGED + timedelta(days=5)),
        (BOX, BESIDE, CHANGED + timedelta(days=3)),
        (BOX, BEFORE, CHANGED - timedelta(days=2)),
        (OLD_BOX, LINE, CHANGED - timedelta(days=1)),
        (OLD_BOX, FRESH, CHANGED - timedelta(days=1)),
    ]
    return pl.DataFrame(rows, schema={"imei": pl.String, "msisdn": pl.String, "last_at": UTC_US}, orient="row")


def test_a_simbox_case_relates_only_lines_seen_in_its_device_since_its_line_changed_hands() -> None:
    (case,) = detect_simbox(_lines(CHANGED), period=PERIOD, now=NOW, devices=_pairs())
    assert case.related == (BESIDE,)
    assert case.evidence["imeis"] == [BOX] and case.evidence["device_lines"] == 2  # as its sims_per_imei counts


def test_without_an_owner_change_the_lines_of_the_whole_period_relate() -> None:
    (case,) = detect_simbox(_lines(None), period=PERIOD, now=NOW, devices=_pairs())
    assert case.related == (BESIDE, BEFORE, FRESH)  # the activation in 2024 bounds nothing in the period
    # pairs without ``last_at`` (a caller that only knows the pairs) are taken as seen in the holding
    (bare,) = detect_simbox(_lines(CHANGED), period=PERIOD, now=NOW, devices=_pairs().drop("last_at"))
    assert bare.related == (BESIDE, BEFORE, FRESH)


def _rec(rid: str, msisdn: str, imei: str, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": at, "duration_s": 30, "peer": "8613800000000", "imei": imei, "parts": 1,
                  "incomplete": False}


def test_device_pairs_give_each_pair_its_last_time_within_the_lines_holding() -> None:
    from fairtel.fraud import device_pairs

    usage = pl.DataFrame([
        _rec("a", LINE, OLD_BOX, CHANGED - timedelta(days=1)),
        _rec("b", LINE, BOX, CHANGED + timedelta(days=1)),
        _rec("c", LINE, BOX, CHANGED + timedelta(days=5)),
        _rec("d", BEFORE, BOX, CHANGED - timedelta(days=2)),
    ], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
    subscribers = pl.DataFrame({"msisdn": [LINE, BEFORE], "activated_at": ["2024-01-01T00:00:00Z"] * 2,
                                "holder_since": [CHANGED.isoformat(), None]}, schema_overrides={"holder_since": pl.String})
    every = {(i, m): at for i, m, at in device_pairs(usage.lazy()).iter_rows()}
    assert every == {(OLD_BOX, LINE): CHANGED - timedelta(days=1), (BOX, LINE): CHANGED + timedelta(days=5),
                     (BOX, BEFORE): CHANGED - timedelta(days=2)}
    held = {(i, m): at for i, m, at in device_pairs(usage, subscribers=subscribers).iter_rows()}
    assert held == {(BOX, LINE): CHANGED + timedelta(days=5), (BOX, BEFORE): CHANGED - timedelta(days=2)}
    # and the case line's own holding then leaves BEFORE out of its box
    features = _lines(CHANGED)
    (case,) = detect_simbox(features, period=PERIOD, now=NOW, devices=device_pairs(usage, subscribers=subscribers))
    assert case.related == () and "imeis" not in case.evidence
