"""A statement for people (HTML) writes amounts of 1 000 and more with thousands separators (``12,345.60``) while the
CSV keeps them machine-readable (``12345.60``); and where the operator's clock changes its UTC offset within the
bill's period (daylight saving), every time carries its offset, so the hour repeated when clocks go back (two calls
at 02:30 on 25 October 2026 in Europe/Berlin, one at +02:00, one at +01:00) reads as two different times."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import polars as pl

from fairtel.billing import Account, build_statement, run_bills, statement_csv, statement_html
from fairtel.billing._statement import Statement
from fairtel.catalog import Catalog, default_catalog_path, parse_catalog
from fairtel.rating import rate

LINE = "8613800000001"


def catalog_in(tz: str) -> Catalog:
    text = default_catalog_path().read_text(encoding="utf-8").replace('timezone = "Asia/Shanghai"', f'timezone = "{tz}"')
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    assert catalog.operator.timezone == tz
    return catalog


def call(rid: str, at: datetime, seconds: int = 120) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": LINE, "kind": "voice", "direction": "out",
            "started_at": at, "duration_s": seconds, "peer": "8613912345678"}


def statement(tz: str, period: str, calls: list[dict[str, Any]], lang: str = "en") -> Statement:
    catalog = catalog_in(tz)
    usage = pl.DataFrame(calls, schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    rated = rate(usage, catalog, {LINE: "payg"}, period=period).rated
    run = run_bills(rated, catalog, [Account(LINE, "payg", datetime(2025, 1, 1, tzinfo=UTC))], period=period,
                    issued_at=datetime(2026, 12, 1, 9, tzinfo=UTC), run_id="r1")
    bill = run.bill_for(LINE)
    assert bill is not None
    return build_statement(bill, run.billed, catalog=catalog, language=lang)


def csv_rows(st: Statement) -> list[list[str]]:
    return list(csv.reader(io.StringIO(statement_csv(st))))


def html_cells(st: Statement) -> list[list[str]]:
    body = statement_html(st).split('<table class="lines">', 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("<tr")[1:] if "<td>" in row]


# 02:30 local twice: 00:30 UTC is 02:30 CEST (+02:00), 01:30 UTC is 02:30 CET (+01:00)
REPEATED = [call("first", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)), call("second", datetime(2026, 10, 25, 1, 30, tzinfo=UTC))]


def test_the_repeated_hour_reads_as_two_times() -> None:
    for lang in ("en", "zh"):
        st = statement("Europe/Berlin", "2026-10", REPEATED, lang)
        times = [r[1] for r in csv_rows(st)[1:] if r[1]]
        assert times == ["2026-10-25 02:30:00+02:00", "2026-10-25 02:30:00+01:00"]
        assert [datetime.fromisoformat(t) for t in times] == [c["started_at"] for c in REPEATED]  # read back exactly
        html_times = [c[1] for c in html_cells(st) if c[1]]
        assert html_times == times


def test_a_clock_that_keeps_its_offset_shows_no_offset() -> None:
    # Berlin in November changes no offset; Shanghai never does
    st = statement("Europe/Berlin", "2026-11", [call("nov", datetime(2026, 11, 3, 10, tzinfo=UTC))])
    assert [r[1] for r in csv_rows(st)[1:] if r[1]] == ["2026-11-03 11:00:00"]
    st = statement("Asia/Shanghai", "2026-10", [call("sh", datetime(2026, 10, 25, 1, 30, tzinfo=UTC))])
    assert [r[1] for r in csv_rows(st)[1:] if r[1]] == ["2026-10-25 09:30:00"]


def test_large_amounts_are_grouped_for_people_not_for_machines() -> None:
    st = statement("Asia/Shanghai", "2026-10", [call("long", datetime(2026, 10, 5, 1, tzinfo=UTC), seconds=2_000_000)])
    total = st.bill.total_minor
    assert total >= 100_000, total  # 1 000 yuan and more
    plain = f"{total // 100}.{total % 100:02d}"
    grouped = f"{total // 100:,}.{total % 100:02d}"
    rows = csv_rows(st)
    assert rows[-1][9] == plain  # the CSV's total row: no separators
    assert all("," not in r[9] for r in rows[1:])
    html = statement_html(st)
    assert f"<td>{grouped} " in html.split('<table class="totals">', 1)[1]  # the total, grouped
    assert plain not in html
    for cell in (c[9] for c in html_cells(st)):  # each line's amount as well, from 1 000 up
        assert cell == f"{int(cell.replace(',', '').split('.')[0]):,}.{cell.split('.')[1]}"
