"""`fairtel kpi complaints`: complaints (投诉) and appeals to the regulator (申诉) per million subscribers by
category and month, in the regulator's words, with the operators' published appeal rates as targets (judged on
the year to date, as they are published); complaints stored under the codes before the new categories still
read and count. Every figure below is worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.care import classify_complaint
from fairtel.cli import app
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.kpi import ComplaintFact
from fairtel.kpi._complaint_report import complaint_report
from fairtel.store import Complaint, Customer, Subscriber, get_complaint, open_complaint
from fairtel.store._schema import table_of

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner()


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=SH)


FACTS = [
    ComplaintFact("c1", "unexplained_charge", "regulator", at(3, 5)),  # March, an appeal
    ComplaintFact("c1", "unexplained_charge", "regulator", at(3, 5)),  # the same, reopened: once
    ComplaintFact("c2", "unexplained_charge", "hotline", at(3, 10)),  # March, to the operator
    ComplaintFact("c3", "unexplained_charge", "regulator", at(1, 20)),  # January: the year's appeals only
    ComplaintFact("c4", "roaming", "app", at(3, 2)),
    ComplaintFact("c5", "malicious_charge", "regulator", at(2, 14)),  # February: the year's appeals only
    ComplaintFact("c6", "retired_code", "hotline", at(3, 3)),  # a code no category has any more
    ComplaintFact("c7", "network_quality", "regulator", at(12, 31, 2025)),  # last year: left out
    ComplaintFact("c8", "price", "hotline", at(4, 1)),  # April: left out
]


def report(subscribers: int, year_subscribers: int, lang: str = "zh") -> dict[str, Any]:
    r = complaint_report(
        FACTS,
        period="2026-03",
        subscribers=subscribers,
        year_subscribers=year_subscribers,
        start=at(3, 1).replace(hour=0),
        end=at(4, 1).replace(hour=0),
        year_start=at(1, 1).replace(hour=0),
        lang=lang,
    )
    return r.to_dict()


def test_figures_by_hand() -> None:
    d = report(250_000, 400_000)
    rows = {c["category"]: c for c in d["categories"]}
    # the regulator's categories first, every category listed, the stored retired code after them
    assert [c["category"] for c in d["categories"]][:3] == ["unexplained_charge", "malicious_charge", "roaming"]
    assert d["categories"][-1]["category"] == "retired_code"
    assert "network_quality" in rows and rows["network_quality"]["complaints"] == 0
    # 不明扣费: March c1 (appeal) and c2: 2 x 1e6 / 250000 = 8.00, 1 appeal = 4.00; the year's appeals c1, c3:
    # 2 x 1e6 / 400000 = 5.00 > 0.78: not met
    assert rows["unexplained_charge"] == {
        "category": "unexplained_charge",
        "label": "不明扣费",
        "complaints": 2,
        "complaints_per_million": "8.00",
        "appeals": 1,
        "appeals_per_million": "4.00",
        "year_appeals": 2,
        "year_appeals_per_million": "5.00",
        "target_per_million": "0.78",
        "met": False,
    }
    # 恶意扣费: none in March; c5 in February: 1 x 1e6 / 400000 = 2.50 > 0 (the target is none at all)
    m = rows["malicious_charge"]
    assert (
        m["label"],
        m["complaints"],
        m["complaints_per_million"],
        m["year_appeals"],
        m["year_appeals_per_million"],
        m["target_per_million"],
        m["met"],
    ) == ("恶意扣费", 0, "0.00", 1, "2.50", "0", False)
    # 国际漫游: c4, 1 x 1e6 / 250000 = 4.00; no published figure: no target
    r = rows["roaming"]
    assert (
        r["label"],
        r["complaints"],
        r["complaints_per_million"],
        r["appeals"],
        r["target_per_million"],
        r["met"],
    ) == ("国际漫游", 1, "4.00", 0, None, None)
    assert (rows["retired_code"]["label"], rows["retired_code"]["complaints"]) == ("retired_code", 1)
    # all: March c1, c2, c4, c6 = 4 -> 16.00, appeals 1 -> 4.00; the year's appeals c1, c3, c5 = 3 -> 7.50 <= 32.4
    assert d["total"] == {
        "category": "total",
        "label": "合计",
        "complaints": 4,
        "complaints_per_million": "16.00",
        "appeals": 1,
        "appeals_per_million": "4.00",
        "year_appeals": 3,
        "year_appeals_per_million": "7.50",
        "target_per_million": "32.4",
        "met": True,
    }
    assert (d["subscribers"], d["year_subscribers"], d["appeal_channel"]) == (250_000, 400_000, "regulator")


def test_a_target_is_met_at_or_under_it_and_labels_follow_the_language() -> None:
    d = report(2_500_000, 10_000_000, lang="en")
    u = next(c for c in d["categories"] if c["category"] == "unexplained_charge")
    # 2 appeals x 1e6 / 10 000 000 = 0.20 <= 0.78
    assert (u["label"], u["year_appeals_per_million"], u["met"]) == ("unexplained charges", "0.20", True)
    assert d["total"]["label"] == "all categories"


def test_no_subscribers_no_rates_and_a_language_is_checked() -> None:
    d = report(0, 0)
    assert (d["total"]["complaints_per_million"], d["total"]["met"]) == (None, None)
    assert d["notes"]
    with pytest.raises(InvalidInputError):
        report(1, 1, lang="fr")


# -- on a home ------------------------------------------------------------------------------------------------
LINES = {  # msisdn: (activated, status, closed)
    "8613800138001": (datetime(2025, 1, 1, tzinfo=UTC), "active", None),  # in March and in the year
    "8613800138002": (datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 2, 10, tzinfo=UTC)),  # the year only
    "8613800138003": (datetime(2026, 3, 15, tzinfo=UTC), "active", None),  # in March and in the year
    "8613800138004": (datetime(2026, 4, 2, tzinfo=UTC), "active", None),  # neither
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    fapp = bootstrap(load_settings(home=home))
    assert fapp.settings.timezone == "Asia/Shanghai"
    created = datetime(2025, 1, 1, tzinfo=UTC)
    line = "8613800138001"
    with fapp.db.begin() as conn:
        conn.execute(insert(table_of(Customer)).values(customer_id="c1", created_at=created))
        conn.execute(
            insert(table_of(Subscriber)),
            [
                {
                    "msisdn": m,
                    "customer_id": "c1",
                    "plan_id": "basic-39",
                    "activated_at": a,
                    "status": s,
                    "language": "zh",
                    "region": None,
                    "updated_at": created,
                    "closed_at": c,
                }
                for m, (a, s, c) in LINES.items()
            ],
        )
        text = "在国外用了几天流量扣了我800块"
        open_complaint(
            conn,
            msisdn=line,
            category=classify_complaint(text),
            text=text,
            at=at(3, 5),
            audit=None,
            channel="app",
            complaint_id="k-roam",
        )
        text = "莫名其妙订了个什么音乐包每月扣10元"
        open_complaint(
            conn,
            msisdn=line,
            category=classify_complaint(text),
            text=text,
            at=at(3, 6),
            audit=None,
            channel="regulator",
            complaint_id="k-vas",
        )
        text = "手机中了吸费软件，每天自动发短信扣费"
        open_complaint(
            conn,
            msisdn=line,
            category=classify_complaint(text),
            text=text,
            at=at(1, 10),
            audit=None,
            channel="regulator",
            complaint_id="k-mal",
        )
        # stored before the new categories (no events, as rows of the first schema): a roaming bill filed then
        conn.execute(
            insert(table_of(Complaint)).values(
                complaint_id="k-old",
                msisdn=line,
                category="billing_error",
                opened_at=at(3, 7),
                closed_at=None,
                status="open",
                channel="hotline",
                text="漫游账单太高",
                lifecycle="opened",
                due_at=None,
                escalation_level=0,
            )
        )
    fapp.db.dispose()
    return home


def kpi(home: Path, *args: str) -> Any:
    res = runner.invoke(app, ["kpi", "complaints", *args, "--home", str(home)])
    assert res.exit_code == 0, res.output
    return res


def test_old_categories_still_read(home: Path) -> None:
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.connect() as conn:
        old = get_complaint(conn, "k-old")
        assert (old.category, old.status, old.lifecycle().category) == ("billing_error", "opened", "billing_error")
        assert get_complaint(conn, "k-roam").category == "roaming"
        assert get_complaint(conn, "k-mal").category == "malicious_charge"
    fapp.db.dispose()


def test_the_report_of_a_home(home: Path) -> None:
    d = json.loads(kpi(home, "--period", "202603", "--json", "--lang", "en").stdout)
    # lines in service in March: 001 and 003 = 2; at March's end (the year-to-date base, as the operators' year-end
    # figures use): 001 and 003 = 2 (002 closed in February no longer counts)
    assert (d["period"], d["subscribers"], d["year_subscribers"]) == ("2026-03", 2, 2)
    rows = {c["category"]: c for c in d["categories"]}
    # March: k-roam, k-vas (an appeal), k-old: 3 x 1e6 / 2 = 1500000.00; 1 appeal = 500000.00
    # the year's appeals: k-vas, k-mal = 2 x 1e6 / 2 = 1000000.00 > 32.4
    t = d["total"]
    assert (
        t["complaints"],
        t["complaints_per_million"],
        t["appeals"],
        t["appeals_per_million"],
        t["year_appeals"],
        t["year_appeals_per_million"],
        t["met"],
    ) == (3, "1500000.00", 1, "500000.00", 2, "1000000.00", False)
    assert (rows["roaming"]["label"], rows["roaming"]["complaints"], rows["roaming"]["complaints_per_million"]) == (
        "international roaming",
        1,
        "500000.00",
    )
    u = rows["unexplained_charge"]
    assert (u["complaints"], u["appeals"], u["year_appeals_per_million"], u["target_per_million"], u["met"]) == (
        1,
        1,
        "500000.00",
        "0.78",
        False,
    )
    m = rows["malicious_charge"]
    assert (m["complaints"], m["year_appeals"], m["year_appeals_per_million"], m["met"]) == (0, 1, "500000.00", False)
    assert (rows["billing_error"]["complaints"], rows["billing_error"]["complaints_per_million"]) == (1, "500000.00")
    assert d["notes"] == []


def test_the_table_in_the_regulator_s_words(home: Path) -> None:
    out = kpi(home, "--period", "2026-03").stdout
    for words in ("不明扣费", "恶意扣费", "国际漫游", "申诉率", "目标申诉率", "未达标", "合计"):
        assert words in out
    out = kpi(home, "--period", "202603", "--lang", "en").stdout
    for words in ("unexplained charges", "malicious charging", "international roaming", "appeals per million"):
        assert words in out


def test_a_bad_period_or_language_is_refused_and_named(home: Path) -> None:
    res = runner.invoke(app, ["kpi", "complaints", "--period", "2026-13", "--home", str(home), "--json"])
    assert res.exit_code == 2 and "--period" in res.stdout
    res = runner.invoke(app, ["kpi", "complaints", "--period", "202603", "--lang", "fr", "--home", str(home), "--json"])
    assert res.exit_code == 2 and "--lang" in res.stdout


def test_the_month_s_kpis_are_still_the_command_itself(home: Path) -> None:
    res = runner.invoke(app, ["kpi", "--period", "2026-03", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["complaints"]["total"] == 3
    assert Decimal(json.loads(res.stdout)["complaints"]["per_million"]) == Decimal("1500000.00")
