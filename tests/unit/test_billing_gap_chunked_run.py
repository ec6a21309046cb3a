"""A bill run made a chunk of subscribers at a time (``run_bills_chunked``) gives exactly the bills, billed-line
snapshot, held lines, totals, report and notes of the whole run at once (``run_bills``), whatever the chunk size
(1, 7, all): held usage, a closed line with no closing date, a line activated after the period, a number no account
holds, refused VAS, pending and earlier holders' adjustments, unrated records (one naming no number), a skipped
account. A run refused (an account on a plan the catalog lacks) is refused whole, with every problem, and yields
nothing after its first problem."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fairtel.billing import Account, AdjustmentEntry, AdjustmentKind, BillRun, run_bills, run_bills_chunked
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
PLANS = ("basic-39", "payg", "senior-19")


def num(i: int) -> str:
    return f"86138{i:08d}"


def call(rid: str, msisdn: str, day: int, hour: int = 10, seconds: int = 90, peer: str = "8613912345678") -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "duration_s": seconds,
            "bytes_up": None, "bytes_down": None, "peer": peer, "offer_id": None, "amount_minor": None, "currency": None}


def accounts() -> list[Account]:
    out = []
    for i in range(40):
        m, plan = num(i), PLANS[i % 3]
        if i % 10 == 3:
            out.append(Account(m, plan, datetime(2025, 1, 1, tzinfo=CN), "suspended", suspended_at=datetime(2026, 3, 12, tzinfo=CN)))
        elif i % 10 == 5:
            out.append(Account(m, plan, datetime(2025, 1, 1, tzinfo=CN), "closed", closed_at=datetime(2026, 3, 20, 12, tzinfo=CN)))
        elif i == 17:
            out.append(Account(m, plan, datetime(2025, 1, 1, tzinfo=CN), "closed"))  # no closing date
        elif i == 21:
            out.append(Account(m, plan, datetime(2026, 4, 2, tzinfo=CN)))  # activated after the period
        elif i == 27:
            out.append(Account(m, plan, datetime(2025, 1, 1, tzinfo=CN), "closed", closed_at=datetime(2026, 2, 1, tzinfo=CN)))
        elif i == 34:
            out.append(Account(m, plan, datetime(2025, 1, 1, tzinfo=CN), holder_since=datetime(2026, 2, 10, tzinfo=CN)))
        else:
            out.append(Account(m, plan, datetime(2026, 3, i % 28 + 1, 8, tzinfo=CN) if i % 4 == 0 else datetime(2025, 1, 1, tzinfo=CN)))
    return out


def usage() -> pl.DataFrame:
    rows = []
    for i in [*range(40), 41, 42]:  # 41, 42: numbers no account holds
        for k in range(i % 5 + 1):
            rows.append(call(f"r{i}-{k}", num(i), day=(k * 7 + i) % 28 + 1, hour=k + 8, seconds=30 + 37 * k,
                             peer="85261234567" if k == 2 else "8613912345678"))
        if i % 6 == 1:
            rows.append(call(f"r{i}-vas", num(i), day=9) | {"kind": "vas", "offer_id": "vas-horoscope-6", "amount_minor": 600,
                                                           "currency": "CNY", "peer": None, "direction": None,
                                                           "duration_s": None})
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC")})


def entry(aid: str, msisdn: str, minor: int, **kw: Any) -> AdjustmentEntry:
    return AdjustmentEntry(aid, kw.pop("kind", AdjustmentKind.CREDIT), msisdn, minor, "CNY", "goodwill",
                           kw.pop("created_at", datetime(2026, 3, 5, tzinfo=CN)), "care", **kw)


ADJUSTMENTS = [
    entry("a1", num(2), 500), entry("a2", num(8), 120, kind=AdjustmentKind.DEBIT, period="2026-02"),
    entry("a3", num(34), 300, created_at=datetime(2026, 1, 5, tzinfo=CN)),  # an earlier holder's
    entry("a4", num(35), 250), entry("a5", num(39), 75, period=P),  # corrects this period: not carried
    entry("a6", num(2), 40, kind=AdjustmentKind.DEBIT),
]
UNRATED = pl.DataFrame({"msisdn": [num(4), num(41), None, num(4), num(12)], "source": ["sw"] * 5,
                        "record_id": ["u1", "u2", "u3", "u1", "u4"],
                        "reason": ["no_rule", "unknown_subscriber", "unknown_subscriber", "no_rule", "no_plan"]})
SKIP = (num(11),)


def rated_lines(accts: list[Account]) -> pl.DataFrame:
    # 41 and 42 are rated (a register that knew them when rating ran) but have no account now
    return rate(usage(), CATALOG, {a.msisdn: a.plan_id for a in accts} | {num(41): "payg", num(42): "payg"}, period=P).rated


def whole() -> BillRun:
    rated = rated_lines(accounts())
    return run_bills(rated, CATALOG, accounts(), period=P, issued_at=NOW, run_id="r1", adjustments=ADJUSTMENTS,
                     skip=SKIP, unrated=UNRATED)


def chunked(size: int, accts: list[Account] | None = None) -> tuple[list[BillRun], Any]:
    accts = accounts() if accts is None else accts
    rated = rated_lines(accts)
    by = {a.msisdn: a for a in accts}
    seen: list[int] = []

    def rated_for(chunk: Sequence[str]) -> pl.DataFrame:
        seen.append(len(chunk))
        return rated.filter(pl.col("msisdn").is_in(list(chunk)))

    numbers = [*by, *rated["msisdn"].to_list(), *[m for m in UNRATED["msisdn"].to_list() if m]]
    run = run_bills_chunked(rated_for, CATALOG, lambda chunk: [by[m] for m in chunk if m in by], numbers=numbers,
                            period=P, issued_at=NOW, run_id="r1", chunk_size=size, adjustments=ADJUSTMENTS, skip=SKIP,
                            unrated_for=lambda chunk: UNRATED.filter(pl.col("msisdn").is_in(list(chunk))), sample=5)
    parts = list(run.chunks())
    assert max(seen) <= size  # never more than a chunk of subscribers at once
    return parts, run


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_chunked_run_is_the_whole_run(size: int) -> None:
    want = whole()
    parts, run = chunked(size)
    assert len(parts) >= (40 // size if size < 40 else 1)
    assert [b for p in parts for b in p.bills] == list(want.bills)
    assert_frame_equal(pl.concat([p.billed for p in parts]), want.billed)
    assert_frame_equal(pl.concat([p.held for p in parts]), want.held)
    assert run.summary() == want.summary()
    assert run.notes == want.notes
    assert run.total_minor == want.total_minor and run.bills == len(want.bills)
    assert run.sample == list(want.bills[:5])
    assert run.adjustments_carried == sum(len(b.adjustment_ids) for b in want.bills)
    # the fixture reaches every note and count it claims to
    assert len(want.notes) == 5, want.notes
    s = want.summary()
    assert s["held_records"] and s["refused_vas"] and s["unrated_records"] == 3 and run.adjustments_carried == 3


def test_a_refused_run_is_refused_whole_with_every_problem() -> None:
    accts = accounts()
    accts[4] = Account(num(4), "gone-plan", datetime(2025, 1, 1, tzinfo=CN))
    accts[30] = Account(num(30), "other-gone", datetime(2025, 1, 1, tzinfo=CN))
    rated = rate(usage(), CATALOG, {a.msisdn: a.plan_id for a in accts}, period=P).rated
    with pytest.raises(InvalidInputError) as whole_error:
        run_bills(rated, CATALOG, accts, period=P, issued_at=NOW, run_id="r1")
    for size in (1, 7, 1000):
        with pytest.raises(InvalidInputError) as error:
            chunked(size, accts)
        assert error.value.problems == whole_error.value.problems
        assert len(error.value.problems) == 2


def test_no_chunk_is_yielded_after_a_problem() -> None:
    accts = accounts()
    accts[4] = Account(num(4), "gone-plan", datetime(2025, 1, 1, tzinfo=CN))
    by = {a.msisdn: a for a in accts}
    rated = rate(usage(), CATALOG, {a.msisdn: a.plan_id for a in accts}, period=P).rated
    run = run_bills_chunked(lambda c: rated.filter(pl.col("msisdn").is_in(list(c))), CATALOG,
                            lambda c: [by[m] for m in c if m in by], numbers=list(by), period=P, issued_at=NOW,
                            run_id="r1", chunk_size=2)
    got: list[BillRun] = []
    with pytest.raises(InvalidInputError):
        got.extend(run.chunks())
    assert {b.msisdn for p in got for b in p.bills} <= {num(i) for i in range(4)}
