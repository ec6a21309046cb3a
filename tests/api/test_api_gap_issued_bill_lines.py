"""An issued period's itemised usage (``GET /me/usage``, the console's "My bill") shows the lines its bill was
issued from, as ``fairtel bill statement`` and ``fairtel explain`` do, never the lines as rated again since.

Before: after a tariff change, a rerate and the period rated again (with a late record), the page listed the rated
lines as they stood now: the Hong Kong call at its new price (3.00, billed 4.50) and a late call on no bill, adding up
to more than the bill at the top of the same page, with nothing saying either was a correction. Now the lines are
the bill's (4.50), the correction since is told as one (1.50 credited on the next bill), the late call is listed
apart ("not on this bill: charged on the next one") and never in the total; a period not billed yet still lists its
lines as rated now. Messages read 发送/接收, amounts 元 in Chinese, and no correction says money was given back
already (已退还) when it is only carried into the next bill."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, PERIOD, USERS, Seeded, auth, seeded_on
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app
from fairtel.catalog import load_catalog
from fairtel.cli._billing import rerate_period
from fairtel.cli._load import load_directory
from fairtel.cli._rating import rate_period
from fairtel.core.time import Period
from fairtel.mediation._ingest import ingest_files
from fairtel.web import create_console

NOVEMBER = "2026-11"
HK_RATE = 'steps = [{ rate = "1.50", rate_unit = "60s", increment = "60s" }]'
OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
LATE = (
    "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
    f"r-late,{ALICE},voice,out,2026-10-20T10:00:00+08:00,61,85291234567\n"  # October, rated after the bill: 2.00 at 1.00/min
    f"r-nov,{ALICE},sms,out,2026-11-03T10:00:00+08:00,,8613900139000\n"  # November: not billed yet
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    home = tmp_path_factory.mktemp("home")
    for s in seeded_on(request.param, home, url):
        _rate_again(s, home)
        yield s


def _rate_again(s: Seeded, home: Any) -> None:
    """As the operator did: the Hong Kong rate cut from 1.50 to 1.00 a minute (``load --no-usage``), ``rerate``, a late
    record of the billed month, ``rate --period`` (as the bill's conflict message says) and ``rerate`` again; and a
    November message rated, in a month not billed yet."""
    op = s.settings.home / "operator"
    catalog_file = op / "catalog.toml"
    text = catalog_file.read_text(encoding="utf-8")
    assert text.count(HK_RATE) == 1
    catalog_file.write_text(text.replace(HK_RATE, HK_RATE.replace('"1.50"', '"1.00"')), encoding="utf-8")
    assert load_directory(s.app, op, usage=False).exit_code == 0
    cut = load_catalog(catalog_file)
    assert rerate_period(s.app, PERIOD, catalog=cut)["net"] == "-1.50"
    late = home / "late.csv"
    late.write_text(LATE, encoding="utf-8")
    assert [r.accepted for r in ingest_files([late], settings=s.settings)] == [2]
    tz = cut.operator.timezone
    rate_period(s.app, Period.parse(PERIOD, tz), catalog=cut)
    rate_period(s.app, Period.parse(NOVEMBER, tz), catalog=cut)
    assert rerate_period(s.app, PERIOD, catalog=cut)["net"] == "2.00"  # the late call, charged on the next bill


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


@pytest.fixture(scope="module")
def token(client: TestClient) -> str:
    assert USERS["alice"] == ("subscriber", ALICE)
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _usage(client: TestClient, token: str, period: str, **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/me/usage", params={"period": period, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_an_issued_period_lists_the_lines_its_bill_was_issued_from(client: TestClient, token: str) -> None:
    usage = _usage(client, token, PERIOD)
    bill = client.get(f"/api/v1/me/bills/{PERIOD}", headers=auth(token)).json()
    assert usage["bill_id"] == BILL_A == bill["bill_id"]
    items = {u["record_id"]: u for u in usage["items"]}
    assert list(items) == ["r-0", "r-1", "r-2", "r-3", "r-4"] and usage["count"] == 5
    assert all(items[r]["on_bill"] is True for r in ("r-0", "r-1", "r-2", "r-3"))
    # the horoscope charge the consent gate refused: listed, at nothing, as not billed (no bill holds it)
    refused = items["r-4"]
    assert (refused["on_bill"], refused["status"], refused["amount"]) == (False, "not_billed", "0.00")
    assert refused["why"]["en"].startswith("Not billed")
    # the call to Hong Kong as billed (3 min at 1.50), not at the rate it was priced at again since (3.00)
    hk = items["r-1"]
    assert hk["amount"] == "4.50" and hk["rate_id"] == "voice-intl-1"
    # the lines add up to what the bill charged for them
    billed = sum(Decimal(line["amount"]) for line in bill["lines"] if line["kind"] in ("voice", "sms", "data", "vas"))
    assert Decimal(usage["total"]) == billed == Decimal("14.50")
    # what changed since is told as a correction carried into the next bill, never as money given back already
    assert [(c["kind"], c["amount"], c["old_amount"], c["new_amount"], c["carried"]) for c in hk["corrections"]] == [
        ("credit", "-1.50", "4.50", "3.00", "next_bill")
    ]
    assert (
        "4.50 CNY" in hk["why"]["en"] and "4.50 CNY → 3.00 CNY; 1.50 CNY credited on your next bill" in hk["why"]["en"]
    )
    assert "本话单由 4.50 元改为 3.00 元，将在下期账单中抵扣 1.50 元" in hk["why"]["zh"]
    assert "已退还" not in hk["why"]["zh"]
    assert all(not items[r]["corrections"] for r in ("r-0", "r-2", "r-3"))


def test_lines_on_no_bill_are_apart_and_never_in_the_total(client: TestClient, token: str) -> None:
    usage = _usage(client, token, PERIOD)
    apart = {u["record_id"]: u for u in usage["not_on_bill"]}
    assert "r-late" not in {u["record_id"] for u in usage["items"]}
    late = apart["r-late"]
    assert late["on_bill"] is False and late["status"] == "after_bill" and late["amount"] == "2.00"
    assert late["why"]["en"].startswith(
        "Not on this bill: rated after the bill was issued, so it is charged on your next bill."
    )
    assert late["why"]["zh"].startswith("不在本期账单上：本话单在出账后才计费，将计入下期账单。")
    assert [(c["kind"], c["amount"]) for c in late["corrections"]] == [("debit", "2.00")]
    assert (
        "将在下期账单中补收 2.00 元" in late["why"]["zh"] or "将作为调整项在下期账单中收取 2.00 元" in late["why"]["zh"]
    )
    assert list(apart) == ["r-late"]
    assert usage["corrections_total"] == "0.50"  # −1.50 + 2.00, carried into the next bill
    assert usage["note"] == "lines rated after the bill was issued are not on it: they are charged on the next bill"
    # a kind asked for: the bill's lines of that kind, and those on no bill of it
    calls = _usage(client, token, PERIOD, kind="voice")
    assert [u["record_id"] for u in calls["items"]] == ["r-0", "r-1"] and calls["total"] == "4.50"
    assert [u["record_id"] for u in calls["not_on_bill"]] == ["r-late"]


def test_a_period_not_billed_yet_lists_its_lines_as_rated_now(client: TestClient, token: str) -> None:
    usage = _usage(client, token, NOVEMBER)
    assert usage["bill_id"] is None and usage["not_on_bill"] == []
    assert [(u["record_id"], u["on_bill"]) for u in usage["items"]] == [("r-nov", None)]


def _table(page: str, table_id: str) -> str:
    start = page.index(f'id="{table_id}"')
    return page[start : page.index("</table>", start)]


def test_my_bill_page_agrees_with_its_bill(seeded: Seeded) -> None:
    with TestClient(
        create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), raise_server_exceptions=False
    ) as web:
        r = web.post(
            "/login", data={"username": "alice", "password": PASSWORD}, headers=OWN_PAGE, follow_redirects=False
        )
        assert r.status_code == 303, r.text
        en = web.get(f"/my/bill?period={PERIOD}")
        assert en.status_code == 200, en.text
        page = en.text
        assert 'id="usage-total">14.50 CNY<' in page and "r-late" in page and 'id="usage-not-on-bill"' in page
        # listed apart from the bill's lines
        assert "r-late" not in _table(page, "usage-table") and "r-late" in _table(page, "usage-not-on-bill")
        assert "r-1" in _table(page, "usage-corrections") and "4.50 CNY" in _table(page, "usage-corrections")
        assert 'id="corrections-total">0.50 CNY<' in page
        web.get("/lang/zh?next=/my/bill")
        zh = web.get(f"/my/bill?period={PERIOD}").text
        assert 'id="usage-total">14.50 元<' in zh and "不在本期账单上" in zh and "计入下期账单的更正" in zh
        assert "14.50 CNY" not in zh and "元" in _table(zh, "bill-lines")
        sms = _table(web.get(f"/my/bill?period={NOVEMBER}").text, "usage-table")
        assert "<td>短信（发送）</td>" in sms  # the statement's words for a message's direction
