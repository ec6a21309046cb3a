"""``pseudonymised_evidence``: a case as a reader who does not see the number reads it. Where the evidence states a
line's age, the instants of the line's calls (its first and last premium call, each premium call an IRSF case lists)
are cut to their month, the ages to whole days and the new-holder reason's date to its month: no field, alone or
beside another, gives the day the line was activated or changed hands. A Wangiri case (about a calling number, with
no age) keeps its times; the decisions' history keeps its own. The stored case is not changed."""

from __future__ import annotations

import copy
from typing import Any

from fairtel.fraud import pseudonymised_evidence

IRSF: dict[str, Any] = {
    "case_id": "fcs_1", "detector": "irsf", "period": "2026-03", "opened_at": "2026-04-01T00:00:00+00:00",
    "evidence": {
        "premium_calls": 6, "premium_first_at": "2026-03-12T10:00:00+08:00", "premium_last_at": "2026-03-12T15:00:00+08:00",
        "premium_line_age_days": 2.1167, "line_age_days": 2.1167, "counted_from": "2026-02-26T00:00:00+08:00",
        "premium_records": [{"source": "sw1", "record_id": "r1", "started_at": "2026-03-12T10:00:00+08:00"}],
    },
    "reasons": [
        {"code": "new_holder", "value": 2.1167, "threshold": 30.0,
         "en": "premium calls began 2.1 days after the line changed hands (new holder since 2026-03-10) (≤ 30 days)",
         "zh": "过户（新机主自 2026-03-10 起）2.1 天后即开始拨打高资费号段（≤ 30 天）"},
        {"code": "premium_calls", "value": 6.0, "threshold": 5.0, "en": "6 calls", "zh": "6 次"},
    ],
    "history": [{"at": "2026-04-02T08:30:00+00:00", "outcome": "confirmed"}],
}


def test_the_line_calls_are_cut_to_the_month_beside_its_ages() -> None:
    kept = copy.deepcopy(IRSF)
    shown = pseudonymised_evidence(IRSF)
    assert kept == IRSF  # the stored case as it was
    ev = shown["evidence"]
    assert (ev["premium_first_at"], ev["premium_last_at"]) == ("2026-03", "2026-03")
    assert ev["premium_records"] == [{"source": "sw1", "record_id": "r1", "started_at": "2026-03"}]
    assert (ev["premium_line_age_days"], ev["line_age_days"], ev["premium_calls"]) == (2, 2, 6)
    assert ev["counted_from"] == "2026-02-26T00:00:00+08:00"  # the window's start, not the line's
    holder = shown["reasons"][0]
    assert holder["value"] == 2 and holder["en"] == (
        "premium calls began 2 days after the line changed hands (new holder since 2026-03) (≤ 30 days)")
    assert holder["zh"] == "过户（新机主自 2026-03 起）2 天后即开始拨打高资费号段（≤ 30 天）"
    assert shown["reasons"][1] == IRSF["reasons"][1]
    assert shown["history"] == IRSF["history"] and shown["opened_at"] == IRSF["opened_at"]


def test_a_case_without_a_line_age_keeps_its_times() -> None:
    wangiri = {"detector": "wangiri", "evidence": {"first_at": "2026-03-12T10:00:00+08:00",
                                                   "last_at": "2026-03-12T11:00:00+08:00", "calls": 40}}
    assert pseudonymised_evidence(wangiri) == wangiri
