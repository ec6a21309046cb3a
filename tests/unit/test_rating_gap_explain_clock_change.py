"""``fairtel explain`` in a month the operator's clock changes its UTC offset shows every time with its offset, as the
itemised statement does (one rule, ``rating.clock_changes``): 01:40 comes round twice in America/New_York on
2 November 2025 (at -04:00, then at -05:00), and without the offset the two read as one time. Each part names the
time band the kernel priced it in, the repeated hour read as the wall clock shows it each time it comes round. A
month whose clock keeps one offset is shown as it reads. A clock that goes back at the very end of the month (Africa/
Cairo, 24:00 on 31 October 2024 back to 23:00) repeats an hour of that month too: statement and explanation both
show the offset there."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import polars as pl
from test_billing_gap_statement_readable import LINE, catalog_in
from test_billing_gap_statement_readable import call as demo_call
from test_catalog_gap_repeated_hour import A, call, catalog

from fairtel.billing import Account, build_statement, run_bills, statement_csv
from fairtel.billing._run import BILLED_INPUT
from fairtel.rating import explain, rate

# New York goes back from 02:00 EDT to 01:00 EST at 06:00 UTC on 2 November 2025
BACK = datetime(2025, 11, 2, 6, 0, tzinfo=UTC)
FIRST_0140 = BACK - timedelta(minutes=20)  # 01:40 EDT (-04:00)
SECOND_0140 = BACK + timedelta(minutes=40)  # 01:40 EST (-05:00)


def _new_york() -> tuple[pl.DataFrame, object]:
    cat = catalog(("01:30", "08:00"), tz="America/New_York")  # night from 01:30 to 08:00, day the rest
    usage = pl.DataFrame([call(FIRST_0140, 2400, "r1"), call(SECOND_0140, 60, "r2")])
    res = rate(usage, cat, {A: "payg"}, period="2025-11")
    assert res.unrated.height == 0
    return res.rated, cat


def test_the_repeated_hour_reads_as_two_times_in_zh_and_en() -> None:
    rated, cat = _new_york()
    first, second = (explain(r, rated=rated, catalog=cat) for r in ("r1", "r2"))
    assert first.render("en").splitlines()[0] == (
        "Record r1: call of 4477****0001, 2025-11-02 01:40:00-04:00, billing period 2025-11")
    assert second.render("en").splitlines()[0] == (
        "Record r2: call of 4477****0001, 2025-11-02 01:40:00-05:00, billing period 2025-11")
    assert first.render("zh").splitlines()[0] == "话单 r1：通话，号码 4477****0001，2025-11-02 01:40:00-04:00，账期 2025-11"
    assert second.render("zh").splitlines()[0] == "话单 r2：通话，号码 4477****0001，2025-11-02 01:40:00-05:00，账期 2025-11"
    parts_en = [x for x in first.render("en").splitlines() if x.startswith("Part ")]
    assert parts_en == ["Part 1: 20 min from 2025-11-02 01:40:00-04:00 (destination: UK; time band: night)",
                        "Part 2: 20 min from 2025-11-02 01:00:00-05:00 (destination: UK; time band: day)"]
    parts_zh = [x for x in first.render("zh").splitlines() if x.startswith("第 ")]
    assert parts_zh == ["第 1 部分：2025-11-02 01:40:00-04:00 起，20 分钟（目的地：英国；时段：night）",
                        "第 2 部分：2025-11-02 01:00:00-05:00 起，20 分钟（目的地：英国；时段：day）"]
    # each time shown reads back as the instant it names
    shown = parts_en[1].split(" from ", 1)[1].split(" (", 1)[0]
    assert datetime.fromisoformat(shown) == BACK


def test_each_part_names_the_band_the_kernel_priced_it_in() -> None:
    rated, cat = _new_york()
    snapshot = rated.select(list(BILLED_INPUT))  # a bill's lines keep fewer columns: the band is still the kernel's
    for lines in (rated, snapshot):
        for rid in ("r1", "r2"):
            mine = lines.filter(pl.col("record_id") == rid).sort("line")
            explained = explain(rid, rated=lines, catalog=cat)
            assert [ln.band for ln in explained.lines] == mine["band"].to_list()
            said = [x.rsplit("time band: ", 1)[1].rstrip(")") for x in explained.render("en").splitlines()
                    if x.startswith("Part ")]
            assert said == mine["band"].to_list()
    # the second 01:40 is night again, as the wall clock reads it (the kernel's band, not the first pass's)
    assert explain("r2", rated=rated, catalog=cat).lines[0].band == "night"


def test_a_month_whose_clock_keeps_one_offset_shows_none() -> None:
    cat = catalog(("01:30", "08:00"), tz="America/New_York")
    july = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
    rated = rate(pl.DataFrame([call(july, 60, "j")]), cat, {A: "payg"}, period="2025-07").rated
    for lang in ("en", "zh"):
        text = explain("j", rated=rated, catalog=cat).render(lang)
        assert "2025-07-15 10:00:00" in text and "10:00:00-04:00" not in text
    # a call of a month the clock changes in carries its offset, as the statement's lines of that month do
    late = datetime(2025, 11, 20, 15, 0, tzinfo=UTC)
    rated = rate(pl.DataFrame([call(late, 60, "n")]), cat, {A: "payg"}, period="2025-11").rated
    assert "Part 1: 1 min from 2025-11-20 10:00:00-05:00 (" in explain("n", rated=rated, catalog=cat).render("en")


def test_statement_and_explanation_agree_when_the_clock_goes_back_at_the_months_end() -> None:
    # Cairo: 24:00 EEST (+03:00) on 31 October 2024 becomes 23:00 EET (+02:00); 23:30 comes round twice in October.
    # Offsets read at the month's first and last wall times are both +03:00, yet the month repeats an hour.
    catalog_ = catalog_in("Africa/Cairo")
    first_2330 = datetime(2024, 10, 31, 20, 30, tzinfo=UTC)  # 23:30 +03:00, the first time round
    usage = pl.DataFrame([demo_call("c1", first_2330)], schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    rated = rate(usage, catalog_, {LINE: "payg"}, period="2024-10").rated
    run = run_bills(rated, catalog_, [Account(LINE, "payg", datetime(2024, 1, 1, tzinfo=UTC))], period="2024-10",
                    issued_at=datetime(2024, 11, 2, 9, tzinfo=UTC), run_id="r1")
    bill = run.bill_for(LINE)
    assert bill is not None
    st = build_statement(bill, run.billed, catalog=catalog_, language="en")
    times = [r[1] for r in list(csv.reader(io.StringIO(statement_csv(st))))[1:] if r[1]]
    assert times == ["2024-10-31 23:30:00+03:00"]
    for lines in (rated, run.billed.drop("bill_id", "run_id")):
        for lang in ("en", "zh"):
            assert "2024-10-31 23:30:00+03:00" in explain("c1", rated=lines, catalog=catalog_).render(lang)
    from fairtel.rating._explain import clock_changes

    assert clock_changes("2024-10", "Africa/Cairo")
    assert not clock_changes("2024-12", "Africa/Cairo") and not clock_changes("2024-10", "Asia/Shanghai")
