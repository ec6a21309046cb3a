"""A rerate that issues nothing after an earlier rerate of the period committed its corrections (one stopped past
its commit, then run again) can tell which rerate issued them, how many and their net (``rerate_outcome``), rather
than a bare 0; entries a release of held usage issued are not a rerate's, and a rerate that issues something has
nothing to say of the earlier ones."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel.billing import AdjustmentEntry, AdjustmentKind, rerate_outcome
from fairtel.billing._model import encode_reason

P = "2026-03"
FIRST = datetime(2026, 4, 2, 8, tzinfo=UTC)
KILLED = datetime(2026, 4, 9, 10, 30, tzinfo=UTC)


def entry(aid: str, kind: AdjustmentKind, minor: int, at: datetime, code: str = "rerate-usage", by: str = "rerate") -> AdjustmentEntry:
    params = ({"period": P, "record": aid, "old": "3.00", "new": "2.40", "rule": "r"} if code != "release-held"
              else {"period": P, "record": aid, "amount": "1.00", "rule": "r"})
    return AdjustmentEntry(aid, kind, "8613800000001", minor, "CNY", encode_reason(code, "CNY", **params), at, by,
                           period=P, record_id=aid)


LEDGER = [
    entry("a1", AdjustmentKind.CREDIT, 60, FIRST),
    entry("b1", AdjustmentKind.CREDIT, 60, KILLED), entry("b2", AdjustmentKind.DEBIT, 250, KILLED),
    entry("b3", AdjustmentKind.CREDIT, 15, KILLED, code="rerate-fee"),
    entry("h1", AdjustmentKind.DEBIT, 100, datetime(2026, 4, 12, tzinfo=UTC), code="release-held", by="ops"),
]


def test_a_rerate_that_issues_nothing_names_the_last_rerate() -> None:
    outcome = rerate_outcome([], LEDGER)
    last = outcome.last
    assert last is not None
    assert (last.created_at, last.created_by, last.adjustments, last.net_minor, last.debits, last.credits) == (
        KILLED, "rerate", 3, 250 - 60 - 15, 1, 2)  # the release of held usage, later, is not a rerate
    assert [r.created_at for r in outcome.earlier] == [KILLED, FIRST]
    note = outcome.note(P, "CNY")
    assert note is not None
    assert note.startswith("2026-03 was already rerated by the rerate of 2026-04-09 10:30:00 UTC (rerate)")
    assert "issued 3 adjustment(s): 1 debit(s), 2 credit(s), net 1.75 CNY (and 1 rerate(s) before it)" in note


def test_a_rerate_that_issues_something_says_nothing_of_the_earlier_ones() -> None:
    fresh = entry("c1", AdjustmentKind.DEBIT, 30, datetime(2026, 4, 20, tzinfo=UTC))
    outcome = rerate_outcome([fresh], LEDGER)
    assert outcome.issued == (fresh,) and outcome.note(P, "CNY") is None
    assert rerate_outcome([], []).note(P, "CNY") is None  # never rerated: nothing to name
