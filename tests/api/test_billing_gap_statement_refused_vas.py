"""The itemised statement (详单) lists the VAS charges the consent gate refused as the console and the API do: at
0.00, with the reason in words, never in the total. Before, the statement was built from the bill's snapshot alone,
which holds billed lines only, so a blocked VAS attempt the API listed (0.00, ``not_billed``) was missing from it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app
from fairtel.billing import build_statement, statement_csv, statement_html
from fairtel.store import get_bill

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def issued(seeded: Seeded) -> Seeded:
    seeded.issue(PERIOD)
    return seeded


@pytest.fixture(scope="module")
def client(issued: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(issued.settings, options=ApiOptions(rate_per_second=0), app=issued.app)) as c:
        yield c


def _statement(s: Seeded, language: str) -> Any:
    with s.engine.connect() as conn:
        bill = get_bill(conn, s.ids["bill_a"])
    assert bill is not None
    billed = pl.scan_parquet(s.app.lake.files("billed", periods=[PERIOD])).filter(pl.col("bill_id") == bill.bill_id).collect()
    rated = pl.scan_parquet(s.app.lake.files("rated", periods=[PERIOD])).filter(pl.col("msisdn") == ALICE).collect()
    return build_statement(bill, billed, catalog=s.catalog, language=language, refused=rated)


def test_statement_lists_refused_vas_like_the_api(issued: Seeded, client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    u = client.get(f"/api/v1/me/usage?period={PERIOD}&kind=vas", headers=auth(r.json()["access_token"]))
    assert u.status_code == 200, u.text
    api_refused = [i for i in u.json()["items"] if i.get("status") == "not_billed"]
    assert [(i["record_id"], i["amount"]) for i in api_refused] == [("r-4", "0.00")]
    for lang, words in (("zh", "未计费：没有已确认的订购"), ("en", "not billed: no confirmed subscription")):
        st = _statement(issued, lang)
        blocked = [ln for ln in st.lines if words in ln.description]
        assert len(blocked) == 1, [ln.description for ln in st.lines]
        line = blocked[0]
        assert line.section == "vas" and line.amount_minor == 0 and line.rule_id == api_refused[0]["rule_id"]
        assert ("无订购记录" in line.description) if lang == "zh" else ("no subscription" in line.description)
        assert st.total_minor == st.bill.total_minor  # never in the total
        rows = list(csv.reader(io.StringIO(statement_csv(st))))
        row = next(x for x in rows if words in x[-1])
        assert row[9] == "0.00"
        assert rows[-1][9] == f"{st.bill.total_minor / 100:.2f}"
        assert words in statement_html(st)


def test_statement_without_rated_lines_is_as_before(issued: Seeded) -> None:
    with issued.engine.connect() as conn:
        bill = get_bill(conn, issued.ids["bill_a"])
    assert bill is not None
    billed = pl.scan_parquet(issued.app.lake.files("billed", periods=[PERIOD])).filter(pl.col("bill_id") == bill.bill_id).collect()
    st = build_statement(bill, billed, catalog=issued.catalog, language="zh")
    assert not any("未计费" in ln.description for ln in st.lines)


def test_bill_statement_command_lists_them(issued: Seeded) -> None:
    """``fairtel bill statement`` (``statement_for``) reads the refused charges from the rated lines: needs the CLI to
    pass them to ``build_statement``."""
    from fairtel.cli._billing import statement_for

    zh = statement_for(issued.app, ALICE, PERIOD, catalog=issued.catalog, fmt="csv", lang="zh")
    rows = [r for r in csv.reader(io.StringIO(zh)) if "未计费：没有已确认的订购" in r[-1]]
    assert len(rows) == 1 and rows[0][9] == "0.00" and rows[0][6] == "offer/vas-horoscope-6"
    en = statement_for(issued.app, ALICE, PERIOD, catalog=issued.catalog, fmt="html", lang="en")
    assert "not billed: no confirmed subscription covers this charge" in en
