"""Usage before a line's activation (a reassigned number's earlier holder) is priced apart from the holder's: it
draws nothing of the holder's allowance, its counters are not in the closing state, and the counters the batch
opened with are kept. Before: it drew the holder's allowance first (its calls come first in time), so the holder
paid for minutes the plan includes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B = "8613800000001", "8613800000002"
REGISTER = pl.DataFrame({"msisdn": [A, B], "status": ["active", "active"],
                         "activated_at": [datetime(2026, 3, 20, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)]})
PLANS = {A: "basic-39", B: "basic-39"}  # 300 domestic minutes


def call(rid: str, msisdn: str, day: int, minutes: int) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": minutes * 60,
            "peer": "8613912345678"}


def by_record(rated: pl.DataFrame) -> dict[str, tuple[str | None, int]]:
    return {r: (v, a) for r, v, a in rated.select("record_id", "verdict", "amount_minor").iter_rows()}


def test_the_earlier_holders_minutes_leave_the_holders_allowance_whole() -> None:
    usage = pl.DataFrame([call("earlier", A, 5, 290), call("theirs", A, 25, 20), call("b", B, 6, 310)])
    result = rate(usage, CATALOG, PLANS, period="2026-03", register=REGISTER)
    lines = by_record(result.rated)
    assert lines["earlier"] == ("before_activation", 0)
    assert lines["theirs"] == (None, 0)  # 20 of the holder's own 300 minutes
    # a line without an earlier holder, as before: 300 minutes from its allowance, the other 10 charged (two pieces)
    assert result.rated.filter(pl.col("record_id") == "b")["amount_minor"].to_list()[-1] > 0
    state = {(m, c): u for m, c, u in result.closing_state.iter_rows()}
    assert state[(A, "basic-39/voice")] == 20 * 60 and state[(B, "basic-39/voice")] == 300 * 60
    # the lines are in rating's order: by subscriber, then time
    assert result.rated["record_id"].to_list() == ["earlier", "theirs", "b", "b"]


def test_a_batch_of_only_earlier_usage_keeps_the_counters_it_opened_with() -> None:
    opening = pl.DataFrame({"msisdn": [A], "counter": ["basic-39/voice"], "used": [100 * 60]})
    result = rate(pl.DataFrame([call("earlier", A, 5, 10)]), CATALOG, PLANS, period="2026-03", register=REGISTER,
                  opening_state=opening)
    assert by_record(result.rated)["earlier"][0] == "before_activation"
    assert result.closing_state.rows() == [(A, "basic-39/voice", 100 * 60)]


def test_batching_does_not_change_the_lines() -> None:
    records = [call("earlier", A, 5, 290), call("theirs", A, 25, 20), call("later", A, 26, 15)]
    whole = rate(pl.DataFrame(records), CATALOG, PLANS, period="2026-03", register=REGISTER)
    first = rate(pl.DataFrame(records[:2]), CATALOG, PLANS, period="2026-03", register=REGISTER)
    second = rate(pl.DataFrame(records[2:]), CATALOG, PLANS, period="2026-03", register=REGISTER,
                  opening_state=first.closing_state)
    assert by_record(whole.rated) == by_record(first.rated) | by_record(second.rated)
    assert whole.closing_state.rows() == second.closing_state.rows()
