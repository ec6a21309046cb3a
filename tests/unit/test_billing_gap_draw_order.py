"""``billing._order``: the arrival ordinal a rerate rates each record with, from what the lake records of how the
period was rated (the batch run under the bills, the files rated online in log order)."""

from __future__ import annotations

import polars as pl

from fairtel.billing._order import ARRIVAL, PART, UNPLACED, RatedOrder, draw_order, logged_parts

X, Y = "8613800000001", "8613800000002"


def usage(*rows: tuple[str, str, str]) -> pl.DataFrame:
    """(msisdn, record_id, part) rows."""
    return pl.DataFrame([{"msisdn": m, "source": "sw", "record_id": r, PART: p} for m, r, p in rows])


def billed(*keys: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame([{"msisdn": m, "source": "sw", "record_id": r} for m, r in keys],
                        schema={"msisdn": pl.String(), "source": pl.String(), "record_id": pl.String()})


def ordinals(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.select("record_id", ARRIVAL).iter_rows())


def test_batch_parts_first_then_online_files_in_log_order() -> None:
    u = usage((X, "b1", "batch.parquet"), (X, "o2", "f2.parquet"), (X, "o1", "f1.parquet"), (Y, "b2", "batch.parquet"))
    order = RatedOrder("run-1", frozenset({"batch.parquet"}), (("f1.parquet", "run-1"), ("f2.parquet", "run-1")))
    out = draw_order(u, billed((X, "b1"), (X, "o2"), (X, "o1"), (Y, "b2")), order)
    assert ordinals(out) == {"b1": 0, "b2": 0, "o1": 1, "o2": 2}
    assert not out[UNPLACED].any()


def test_online_files_without_a_batch_run_keep_their_commit_order() -> None:
    u = usage((X, "late-in-time", "f1.parquet"), (X, "early-in-time", "f2.parquet"))
    order = RatedOrder(online=(("f1.parquet", None), ("f2.parquet", None)))
    got = ordinals(draw_order(u, billed((X, "late-in-time"), (X, "early-in-time")), order))
    assert got["late-in-time"] < got["early-in-time"]


def test_records_no_bill_holds_come_after_every_billed_one() -> None:
    # f0 arrived first but its record was not billed (rated after the bill run, say); f9 the log does not name
    u = usage((X, "a", "f0.parquet"), (X, "b", "f1.parquet"), (X, "c", "f9.parquet"), (X, "d", "f2.parquet"),
              (X, "e", "batch.parquet"))
    order = RatedOrder("run-1", frozenset({"batch.parquet"}), (("f0.parquet", "run-1"), ("f1.parquet", "run-1"),
                                                               ("f2.parquet", "run-1")))
    got = ordinals(draw_order(u, billed((X, "b"), (X, "e")), order))
    assert got["e"] < got["b"] < got["a"] < got["d"] < got["c"]


def test_a_bill_pinned_to_an_earlier_batch_run_keeps_its_online_files() -> None:
    """A batch run after the bill (run-2) rated every part: for a bill issued under run-1, the files committed
    on run-1's counters are still online files, those before run-1 its batch records."""
    u = usage((X, "old", "f0.parquet"), (X, "on", "f1.parquet"), (X, "on2", "f2.parquet"))
    order = RatedOrder("run-2", frozenset({"f0.parquet", "f1.parquet", "f2.parquet"}),
                       (("f0.parquet", None), ("f1.parquet", "run-1"), ("f2.parquet", "run-1")))
    keys = billed((X, "old"), (X, "on"), (X, "on2"))
    pinned = ordinals(draw_order(u, keys, order, {X: "run-1"}))
    assert pinned["old"] < pinned["on"] < pinned["on2"]
    # a bill without a pin is taken to be under today's run: all in time order
    assert set(ordinals(draw_order(u, keys, order)).values()) == {0}
    # a bill pinned to no batch run at all: every logged file in log order
    none = ordinals(draw_order(u, keys, order, {X: None}))
    assert none["old"] > 0 and none["on"] == none["on2"] == 0


def test_sources_are_matched_as_billing_reads_them() -> None:
    u = pl.DataFrame({"msisdn": [X], "source": [None], "record_id": ["r"], PART: ["f1.parquet"]},
                     schema={"msisdn": pl.String(), "source": pl.String(), "record_id": pl.String(), PART: pl.String()})
    order = RatedOrder(online=(("f0.parquet", None), ("f1.parquet", None)))
    held = pl.DataFrame({"msisdn": [X], "source": [""], "record_id": ["r"]})
    out = draw_order(u, held, order)
    assert out.columns == [*u.columns, ARRIVAL, UNPLACED] and out["source"].to_list() == [None]
    assert ordinals(out) == {"r": 0}  # billed, the only record: its own position, ranked from 0


def test_logged_parts_name_mediation_parts_and_keep_the_period_files() -> None:
    h1, h2, h3 = "a" * 64, "b" * 64, "c" * 64
    files = [(h1, None, ["2026-03"], None), (h2, None, ["2026-04"], None),
             (h3, ["/lake/usage/period=2026-03/named.parquet"], ["2026-03", "2026-04"], "run-1")]
    assert logged_parts([(f, p and [q.rsplit("/", 1)[-1] for q in p], ps, b) for f, p, ps, b in files], "2026-03") == (
        (f"{'a' * 24}.parquet", None), ("named.parquet", "run-1"))


def test_billed_records_no_batch_run_or_commit_rated_are_told_apart() -> None:
    """Their place is assumed (time order, first): counted, so that a rerate can say its corrections of them may
    come from the order rather than the tariff. Records no bill holds are never counted."""
    u = usage((X, "a", "batch.parquet"), (X, "b", "f1.parquet"), (X, "c", "lost.parquet"), (X, "d", "lost.parquet"))
    order = RatedOrder("run-1", frozenset({"batch.parquet"}), (("f1.parquet", "run-1"),))
    out = draw_order(u, billed((X, "a"), (X, "b"), (X, "c")), order)
    assert dict(out.select("record_id", UNPLACED).iter_rows()) == {"a": False, "b": False, "c": True, "d": False}
    assert ordinals(out)["c"] == 0
    # a batch run from before manifests named no part: its records are its own
    legacy = draw_order(u, billed((X, "a"), (X, "c")), RatedOrder("parts-0123", frozenset(), (("f1.parquet", "parts-0123"),)))
    assert not legacy[UNPLACED].any()
    # no batch run at all: a billed record the log does not name
    online = draw_order(u, billed((X, "b"), (X, "c")), RatedOrder(online=(("f1.parquet", None),)))
    assert dict(online.select("record_id", UNPLACED).iter_rows()) == {"a": False, "b": False, "c": True, "d": False}
