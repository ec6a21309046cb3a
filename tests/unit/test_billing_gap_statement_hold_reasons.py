"""The statement says, for each reason usage is held off the bill, whether it may ever be charged: usage after the
line's suspension only once confirmed as the subscriber's; usage after the line was closed or before it was activated
never (as ``fairtel explain`` says); usage held for a reason the statement has no words for is said to be not charged,
with customer care to ask. No held row, in CSV or HTML, zh or en, shows a hold reason's code."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.billing import Account, build_statement, run_bills, statement_csv, statement_html
from fairtel.billing._statement import Statement
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
SUSPENDED_LINE, CLOSED_LINE, NEW_LINE = "8613800000001", "8613800000002", "8613800000003"
SUSPENDED = datetime(2026, 3, 15, 12, tzinfo=CN)
CLOSED = datetime(2026, 3, 15, 23, 30, tzinfo=CN)
ACTIVATED = datetime(2026, 3, 16, 10, tzinfo=CN)
CODES = ("line_suspended", "line_closed", "before_activation", "line_closed_undated", "held_for_review")


def call(rid: str, msisdn: str, at: datetime, seconds: int = 120) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": seconds, "peer": "8613912345678"}


USAGE = pl.DataFrame([
    call("s-before", SUSPENDED_LINE, SUSPENDED - timedelta(days=3)),
    call("s-after", SUSPENDED_LINE, SUSPENDED + timedelta(days=2), seconds=300),
    call("c-before", CLOSED_LINE, CLOSED - timedelta(days=3)),
    call("c-after", CLOSED_LINE, CLOSED + timedelta(days=2), seconds=300),
    call("n-before", NEW_LINE, ACTIVATED - timedelta(hours=1), seconds=300),
    call("n-after", NEW_LINE, ACTIVATED + timedelta(days=2)),
], schema_overrides={"started_at": pl.Datetime("us", "UTC")})
SUBS = dict.fromkeys((SUSPENDED_LINE, CLOSED_LINE, NEW_LINE), "payg")
ACCOUNTS = [
    Account(SUSPENDED_LINE, "payg", datetime(2025, 1, 1, tzinfo=CN), status="suspended", suspended_at=SUSPENDED),
    Account(CLOSED_LINE, "payg", datetime(2025, 1, 1, tzinfo=CN), status="closed", closed_at=CLOSED),
    Account(NEW_LINE, "payg", ACTIVATED),
]
RUN = run_bills(rate(USAGE, CATALOG, SUBS, period=P).rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1")


def statement(msisdn: str, lang: str, held: pl.DataFrame | None = None) -> Statement:
    bill = RUN.bill_for(msisdn)
    assert bill is not None
    return build_statement(bill, RUN.billed, catalog=CATALOG, language=lang, held=RUN.held if held is None else held)


def held_part(st: Statement) -> tuple[str, str, list[list[str]]]:
    """The held section of the statement's CSV (its opening sentence and rows) and its HTML page."""
    rows = list(csv.reader(io.StringIO(statement_csv(st))))
    start = next(i for i, r in enumerate(rows) if r[0] in ("暂缓计费", "Held, not billed"))
    return rows[start][11], statement_html(st), rows[start + 1:-1]


def test_the_run_holds_each_line_for_its_own_reason() -> None:
    by_line = dict(RUN.held.select("msisdn", "verdict").unique().iter_rows())
    assert by_line == {SUSPENDED_LINE: "line_suspended", CLOSED_LINE: "line_closed", NEW_LINE: "before_activation"}


@pytest.mark.parametrize(("msisdn", "lang", "row_words", "sentence"), [
    (CLOSED_LINE, "en", "usage after the line was closed, never charged to you",
     "Usage after the line was closed is not yours: it is never charged to you."),
    (CLOSED_LINE, "zh", "销户后产生的用量，不会向您收取", "号码销户之后产生的用量不是您的用量，不会向您收取。"),
])
def test_usage_that_was_never_the_subscribers_is_said_never_to_be_charged(
        msisdn: str, lang: str, row_words: str, sentence: str) -> None:
    st = statement(msisdn, lang)
    note, html, rows = held_part(st)
    assert len(rows) == 1 and st.held_minor > 0
    assert sentence in note and sentence in html
    assert row_words in rows[0][11] and row_words in html
    # nothing says it was a suspension, or that it may be charged later
    for text in (note, html, rows[0][11]):
        assert "suspen" not in text and "停机" not in text and "confirmed" not in text and "经核实" not in text
        assert not any(code in text for code in CODES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_usage_after_a_suspension_is_said_to_be_charged_only_once_confirmed(lang: str) -> None:
    note, html, rows = held_part(statement(SUSPENDED_LINE, lang))
    if lang == "zh":
        assert "经核实确为您本人使用后才会另行收取" in note and "停机后产生的用量" in rows[0][11]
        assert "不会向您收取" not in note
    else:
        assert "only once confirmed as yours, otherwise never" in note and "usage after the line's suspension" in rows[0][11]
        assert "never charged to you" not in note
    assert len(rows) == 1 and not any(code in note + html + rows[0][11] for code in CODES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hold_reason_without_words_of_its_own_is_said_in_general_words(lang: str) -> None:
    held = RUN.held.with_columns(
        pl.when(pl.col("msisdn") == CLOSED_LINE).then(pl.lit("held_for_review")).otherwise(pl.col("verdict"))
        .alias("verdict"))
    note, html, rows = held_part(statement(CLOSED_LINE, lang, held))
    row_words, sentence = (("暂不收取，详情请咨询客服", "因其他原因未计入账单的用量暂不收取，详情请咨询客服。") if lang == "zh" else
                           ("not charged; ask customer care", "not charged; ask customer care about it."))
    assert row_words in rows[0][11] and sentence in note and sentence in html
    assert not any(code in note + html + rows[0][11] for code in CODES)


def test_the_opening_sentence_says_each_reason_present_once() -> None:
    both = RUN.held.filter(pl.col("msisdn").is_in([SUSPENDED_LINE, CLOSED_LINE])).with_columns(
        pl.lit(CLOSED_LINE).alias("msisdn"), pl.lit(statement(CLOSED_LINE, "en").bill.bill_id).alias("bill_id"))
    st = statement(CLOSED_LINE, "en", both)
    note, html, rows = held_part(st)
    assert len(rows) == 2 and note in html.replace("&#x27;", "'")
    assert note.startswith("The usage below is priced but not on this bill and not in the total due. ")
    assert note.count("only once confirmed as yours") == 1 and note.count("never charged to you") == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_closed_line_without_its_closing_date_is_never_charged(lang: str) -> None:
    held = RUN.held.with_columns(
        pl.when(pl.col("msisdn") == CLOSED_LINE).then(pl.lit("line_closed_undated")).otherwise(pl.col("verdict"))
        .alias("verdict"))
    note, html, rows = held_part(statement(CLOSED_LINE, lang, held))
    words = "销户时间未登记" if lang == "zh" else "closing date is not on record"
    never = "不会向您收取" if lang == "zh" else "never charged to you"
    assert words in rows[0][11] and never in rows[0][11] and never in note
    assert not any(code in note + html + rows[0][11] for code in CODES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_usage_before_the_lines_activation_is_left_off_its_holders_statement(lang: str) -> None:
    """Usage before the activation is not the holder's (a reassigned number's earlier holder's calls and other
    parties): the run holds it and reports it, the statement the holder receives does not list it."""
    assert RUN.held.filter(pl.col("msisdn") == NEW_LINE).height > 0
    st = statement(NEW_LINE, lang)
    assert st.held == () and st.held_minor == 0
    text = statement_csv(st) + statement_html(st)
    assert "入网前" not in text and "before the line was activated" not in text
