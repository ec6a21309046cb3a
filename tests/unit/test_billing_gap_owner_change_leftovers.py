"""What the month of an owner change (过户: ``holder_since`` inside the period) leaves to the readers after the bill run.

The line moved from its previous customer to the current one at 15:00 on 10 March 2026. The previous customer's
consented VAS charge of the 3rd is held by the bill run (``before_holding``): a late-VAS charge of a rerate must not
put it on the number's next bill (the current customer's); the VAS charges of theirs the consent gate refused are not
listed on the current customer's statement (their own still are); and an explanation of a held record says why it
is never charged to the reader.

Before: ``charge_late_vas`` charged the held VAS charge as ``late-vas``; the statement listed the previous customer's
refused charge with its time; an explanation of a ``before_holding`` line said nothing of its hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.billing import Account, build_statement, charge_late_vas, run_bills, statement_csv
from fairtel.billing._run import BEFORE_HOLDING
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import explain, rate
from fairtel.rating._explain import HELD_WORDS

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
MOVED = "8613800000001"
CHANGE = datetime(2026, 3, 10, 15, tzinfo=CN)
ACCOUNT = Account(MOVED, "basic-39", datetime(2025, 1, 1, tzinfo=CN), holder_since=CHANGE)


def _rec(rid: str, at: datetime, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": MOVED, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": 61, "bytes_up": None, "bytes_down": None,
            "peer": "85261234567", "offer_id": None, "amount_minor": None, "currency": None} | kw


def _vas(rid: str, at: datetime, offer: str = "vas-horoscope-6") -> dict[str, Any]:
    return _rec(rid, at, kind="vas", offer_id=offer, amount_minor=600, currency="CNY", peer=None, direction=None,
                duration_s=None)


def _rated() -> pl.DataFrame:
    """The previous customer's call of the 5th and horoscope charge of the 3rd (consented), a news charge of the 4th
    they never ordered (refused); the current customer's call of the 20th and a refused news charge of the 21st."""
    usage = pl.DataFrame([
        _rec("call-before", datetime(2026, 3, 5, 10, tzinfo=CN)), _rec("call-after", datetime(2026, 3, 20, 10, tzinfo=CN)),
        _vas("vas-before", datetime(2026, 3, 3, 10, tzinfo=CN)),
        _vas("news-before", datetime(2026, 3, 4, 10, tzinfo=CN), "vas-news-5"),
        _vas("news-after", datetime(2026, 3, 21, 10, tzinfo=CN), "vas-news-5"),
    ], schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    rated = rate(usage, CATALOG, {MOVED: "basic-39"}, period=P).rated
    news, vas = pl.col("rule_id") == "offer/vas-news-5", pl.col("kind") == "vas"
    verdict = pl.when(vas & news).then(pl.lit("no_subscription")).when(vas).then(pl.lit("consented"))
    return rated.with_columns(verdict.otherwise(pl.col("verdict")).alias("verdict"),
                              pl.when(vas).then(pl.lit(600)).otherwise(pl.col("amount_minor")).alias("amount_minor"))


def _refused_ids(rated: pl.DataFrame) -> set[str]:
    return set(rated.filter(pl.col("verdict") == "no_subscription")["record_id"].to_list())


def test_the_rated_lines_are_as_described() -> None:
    rated = _rated()
    assert _refused_ids(rated) == {"news-before", "news-after"}
    run = run_bills(rated, CATALOG, [ACCOUNT], period=P, issued_at=NOW, run_id="r1")
    assert sorted(run.held.select("record_id", "verdict").unique().rows()) == [("call-before", BEFORE_HOLDING),
                                                                               ("vas-before", BEFORE_HOLDING)]


def test_a_late_vas_charge_skips_the_previous_customer_s_held_charge() -> None:
    rated = _rated()
    run = run_bills(rated, CATALOG, [ACCOUNT], period=P, issued_at=NOW, run_id="r1")
    bill = run.bill_for(MOVED)
    assert bill is not None
    held = {(m, s or "", r) for m, s, r in run.held.select("msisdn", "source", "record_id").unique().iter_rows()}
    late = charge_late_vas(run.billed, rated, period=P, bills={MOVED: bill.bill_id}, currency="CNY", created_at=NOW,
                           held=held)
    assert late.adjustments == ()  # the held charge is the previous customer's: not charged to the current one
    assert late.held == ("sw/vas-before",)
    assert "sw/vas-before" not in {f"{s.source}/{s.record_id}" for s in late.settled}  # left to its hold, not settled
    # the refused charges are refused as before (never billed), whoever made them
    assert sorted(late.refused) == ["sw/news-after", "sw/news-before"]


def test_the_current_customer_s_statement_lists_only_their_own_refused_charges() -> None:
    rated = _rated()
    run = run_bills(rated, CATALOG, [ACCOUNT], period=P, issued_at=NOW, run_id="r1")
    bill = run.bill_for(MOVED)
    assert bill is not None
    for lang in ("zh", "en"):
        everyone = statement_csv(build_statement(bill, run.billed, catalog=CATALOG, language=lang, refused=rated))
        assert "2026-03-04" in everyone  # without the holding start, the refused charge of the 4th is listed
        st = build_statement(bill, run.billed, catalog=CATALOG, language=lang, refused=rated, held=run.held,
                             holding_from=CHANGE)
        out = statement_csv(st)
        assert "2026-03-21" in out  # the current customer's refused charge, at 0.00 with why
        assert "2026-03-04" not in out and "2026-03-03" not in out and "2026-03-05" not in out, out
        assert st.total_minor == bill.total_minor
    with pytest.raises(Exception, match="holding_from"):
        build_statement(bill, run.billed, catalog=CATALOG, language="en", refused=rated,
                        holding_from=datetime(2026, 3, 10, 15))  # no offset: which instant is it?


@pytest.mark.parametrize(("lang", "words"), [("zh", "过户"), ("en", "moved to you")])
def test_an_explanation_of_a_held_record_says_it_is_the_previous_customer_s(lang: str, words: str) -> None:
    run = run_bills(_rated(), CATALOG, [ACCOUNT], period=P, issued_at=NOW, run_id="r1")
    e = explain("call-before", rated=run.held, catalog=CATALOG)
    text = e.render(lang)
    assert words in text and ("不会向您收取" in text if lang == "zh" else "never charged to you" in text), text
    assert e.held == BEFORE_HOLDING and BEFORE_HOLDING in HELD_WORDS  # the API's usage lines word it from there too
