"""The KPIs read the calendar and the money as billing does: a line's ``closed_at`` is its first instant out of
service (closed at 00:00 on the 1st, it is not in service that month), `fairtel kpi complaints` reads `--period`
as every other command does, and money is reported in the currency the home charges in, not a default."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.kpi import (
    FindingFact,
    KpiInputs,
    LineFact,
    RefundFact,
    compute_kpis,
    facts_currency,
    lines_in_service,
    lines_in_service_at,
)
from fairtel.store import Customer, Subscriber, catalog_currency, store_catalog
from fairtel.store._schema import table_of

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner()
MARCH = (datetime(2026, 3, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH))
APRIL = (datetime(2026, 4, 1, tzinfo=SH), datetime(2026, 5, 1, tzinfo=SH))
CLOSED_AT_APRIL = "8613800138002"  # closed at 00:00 on 1 April, the operator's clock


def test_a_line_closed_at_midnight_of_the_1st_is_not_in_service_that_month() -> None:
    lines = [
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "active"),
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", APRIL[0]),
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 4, 1, 0, 0, 1, tzinfo=SH)),  # a second in
    ]
    assert lines_in_service(lines, *MARCH) == 3
    assert lines_in_service(lines, *APRIL) == 2
    # it served the whole of March: among the lines at March's end (its last instant), as billing gives it March's fee
    assert lines_in_service_at(lines, MARCH[1]) == 3


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    fapp = bootstrap(load_settings(home=home))
    assert fapp.settings.timezone == "Asia/Shanghai"
    created = datetime(2025, 1, 1, tzinfo=UTC)
    lines = {"8613800138001": ("active", None), CLOSED_AT_APRIL: ("closed", APRIL[0])}
    with fapp.db.begin() as conn:
        conn.execute(insert(table_of(Customer)).values(customer_id="c1", created_at=created))
        conn.execute(insert(table_of(Subscriber)), [
            {"msisdn": m, "customer_id": "c1", "plan_id": "basic-39", "activated_at": created, "status": s,
             "language": "zh", "region": None, "updated_at": created, "closed_at": c}
            for m, (s, c) in lines.items()
        ])
    return home


def test_the_kpis_count_the_lines_billing_bills(home: Path) -> None:
    kpi = runner.invoke(app, ["kpi", "--period", "2026-04", "--json", "--home", str(home)])
    assert kpi.exit_code == 0, kpi.output
    assert json.loads(kpi.stdout)["subscribers"] == 1
    march = runner.invoke(app, ["kpi", "--period", "2026-03", "--json", "--home", str(home)])
    assert json.loads(march.stdout)["subscribers"] == 2
    complaints = runner.invoke(app, ["kpi", "complaints", "--period", "2026-04", "--json", "--home", str(home)])
    assert complaints.exit_code == 0, complaints.output
    d = json.loads(complaints.stdout)
    assert (d["subscribers"], d["year_subscribers"]) == (1, 1)


def test_kpi_complaints_reads_period_as_every_command_does(home: Path) -> None:
    # a one-digit month, as `fairtel bill --period 2026-4` takes it
    short = runner.invoke(app, ["kpi", "complaints", "--period", "2026-4", "--json", "--home", str(home)])
    assert short.exit_code == 0, short.output
    assert json.loads(short.stdout)["period"] == "2026-04"
    # a month that is none: the error of every other command (time_invalid), naming the option
    for bad in ("2026-13", "2026/04"):
        res = runner.invoke(app, ["kpi", "complaints", "--period", bad, "--json", "--home", str(home)])
        assert res.exit_code == 2, res.output
        err = json.loads(res.stdout)["error"]
        assert err["code"] == "time_invalid" and "--period" in err["message"], err
        same = runner.invoke(app, ["kpi", "--period", bad, "--json", "--home", str(home)])
        assert json.loads(same.stdout)["error"]["code"] == err["code"]


def test_money_is_reported_in_the_currency_refunds_were_made_in() -> None:
    now = datetime(2026, 5, 2, tzinfo=UTC)
    facts = KpiInputs(period="2026-04", subscribers=1, now=now, refunds=[RefundFact(1000, "JPY", "f1")],
                      findings=[FindingFact("duplicate_charge", 1000, "JPY")])
    charges = compute_kpis(facts).to_dict()["charges"]
    assert (charges["currency"], charges["refunded"], charges["amount_at_stake"]) == ("JPY", "1000", "1000")
    # a currency given (the catalog's) is the one reported
    given = compute_kpis(KpiInputs(period="2026-04", subscribers=1, now=now, currency="KWD")).to_dict()["charges"]
    assert (given["currency"], given["refunded"]) == ("KWD", "0.000")
    assert facts_currency([FindingFact("duplicate_charge", 5, "USD")], [RefundFact(1, "JPY"), RefundFact(2, "JPY")]) == "JPY"
    assert facts_currency([], []) is None


def test_the_catalogs_currency_is_read_from_the_home(home: Path) -> None:
    fapp = bootstrap(load_settings(home=home))
    text = default_catalog_path().read_text(encoding="utf-8").replace('currency = "CNY"', 'currency = "JPY"', 1)
    with fapp.db.begin() as conn:
        assert catalog_currency(conn) is None
        store_catalog(conn, text)
        assert catalog_currency(conn) == "JPY"


def test_fairtel_kpi_reports_money_in_the_catalogs_currency(home: Path) -> None:
    # a JPY home with no refund or finding yet: nothing to tell the currency by but the catalog
    fapp = bootstrap(load_settings(home=home))
    text = default_catalog_path().read_text(encoding="utf-8").replace('currency = "CNY"', 'currency = "JPY"', 1)
    with fapp.db.begin() as conn:
        store_catalog(conn, text)
    kpi = runner.invoke(app, ["kpi", "--period", "2026-04", "--json", "--home", str(home)])
    assert kpi.exit_code == 0, kpi.output
    assert '"JPY"' in kpi.stdout and '"CNY"' not in kpi.stdout, kpi.stdout
