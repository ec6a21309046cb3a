"""A chunked bill run given its pending adjustment entries a chunk at a time (``adjustments_for``) asks for the entries
of one chunk's accounts only, and gives exactly the bills, report and notes of the whole run given every entry at
once, oldest first: the example of the earlier holders' entries is the oldest of them whichever chunk it is in."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_gap_chunked_run import (
    CATALOG,
    CN,
    NOW,
    SKIP,
    UNRATED,
    P,
    accounts,
    entry,
    num,
    rated_lines,
)

from fairtel.billing import AdjustmentEntry, run_bills, run_bills_chunked
from fairtel.core.errors import CurrencyMismatchError, InvalidInputError

# oldest first, as the ledger gives them: three earlier holders' entries (lines 8, 34 and 38: each activated, or moved
# to its customer, after the entry), the oldest on the last line; carried ones; one correcting this period; one of a
# number no account holds; one of a line billed before
ENTRIES = sorted([
    entry("e-late", num(2), 500), entry("e-debit", num(8), 120, kind="debit", period="2026-02"),
    entry("e-34", num(34), 300, created_at=datetime(2026, 1, 5, tzinfo=CN)),
    entry("e-38", num(38), 200, created_at=datetime(2026, 1, 2, tzinfo=CN)),
    entry("e-35", num(35), 250), entry("e-this", num(39), 75, period=P), entry("e-none", num(45), 10),
    entry("e-skip", num(11), 60),
], key=lambda e: (e.created_at, e.adjustment_id))


def test_entries_read_a_chunk_at_a_time_give_the_whole_run() -> None:
    accts = accounts()
    # line 38 activated in March for a new holder: its entry of January is the earlier holder's
    accts[38] = type(accts[38])(num(38), accts[38].plan_id, datetime(2026, 3, 3, tzinfo=CN))
    rated = rated_lines(accts)
    want = run_bills(rated, CATALOG, accts, period=P, issued_at=NOW, run_id="r1", adjustments=ENTRIES, skip=SKIP,
                     unrated=UNRATED)
    assert any("3 adjustment(s)" in n and "e.g. e-38" in n for n in want.notes), want.notes
    by = {a.msisdn: a for a in accts}
    asked: list[list[str]] = []

    def adjustments_for(numbers: Sequence[str]) -> tuple[list[AdjustmentEntry], dict[str, str]]:
        asked.append(list(numbers))
        return [e for e in ENTRIES if e.msisdn in numbers], {}

    for size in (1, 7, 1000):
        asked.clear()
        run = run_bills_chunked(lambda c: rated.filter(pl.col("msisdn").is_in(list(c))), CATALOG,
                                lambda c: [by[m] for m in c if m in by], numbers=[*by, *rated["msisdn"].to_list()],
                                period=P, issued_at=NOW, run_id="r1", chunk_size=size, skip=SKIP,
                                unrated_for=lambda c: UNRATED.filter(pl.col("msisdn").is_in(list(c))),
                                adjustments_for=adjustments_for)
        parts = list(run.chunks())
        assert [b for p in parts for b in p.bills] == list(want.bills)
        assert_frame_equal(pl.concat([p.billed for p in parts]), want.billed)
        assert run.summary() == want.summary()
        assert run.notes == want.notes
        assert run.adjustments_carried == sum(len(b.adjustment_ids) for b in want.bills) == 2
        assert asked and max(len(a) for a in asked) <= size  # one chunk's accounts at a time
        assert sorted(m for a in asked for m in a) == sorted(by)  # each account's entries asked for once


def test_an_entry_in_another_currency_refuses_the_run() -> None:
    accts = accounts()
    by = {a.msisdn: a for a in accts}
    foreign = replace(entry("e-usd", num(20), 100), currency="USD")
    run = run_bills_chunked(lambda c: None, CATALOG, lambda c: [by[m] for m in c if m in by], numbers=list(by),
                            period=P, issued_at=NOW, run_id="r1", chunk_size=7,
                            adjustments_for=lambda c: ([foreign] if num(20) in c else [], {}))
    with pytest.raises(CurrencyMismatchError, match="e-usd"):
        list(run.chunks())


def test_entries_are_given_one_way() -> None:
    with pytest.raises(InvalidInputError):
        run_bills_chunked(lambda c: None, CATALOG, lambda c: [], numbers=[], period=P, issued_at=NOW, run_id="r1",
                          adjustments=ENTRIES, adjustments_for=lambda c: ([], {}))
