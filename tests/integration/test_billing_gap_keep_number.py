"""停机保号 end to end: a register file says why a line is suspended (``suspension_reason``: ``requested`` keeps the
number, ``arrears`` is 欠费停机); under a plan whose catalog entry charges a keep-number fee for suspended days, the bill
run charges the plan fee for the days in service and the keep-number fee for the days wholly suspended at the
subscriber's request, on a line of its own that the statement words in zh and en; a suspension for arrears still
owes the whole plan fee; the rerate finds nothing to correct and the assistant's bill preview says the same. SQLite
and PostgreSQL.

Before: the register refused the ``suspension_reason`` column's meaning (no reason was kept) and the catalog the
policy, so both lines paid 39.00 for March."""

from __future__ import annotations

import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, B, as_json, invoke, open_app
from test_billing_gap_owner_change_late import CN, P, _call, _usage

from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.store import import_subscribers, store_catalog

POLICY = TEXT.replace('monthly_fee = "39.00"\n',
                      'monthly_fee = "39.00"\nsuspension = { keep_number_fee = "5.00", applies_to = ["requested"] }\n', 1)
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,suspended_at,suspension_reason\n"
ACTIVE = (f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,,\n"
          f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,,\n")
SUSPENDED = (f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,2026-03-08T15:00:00+08:00,requested\n"
             f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,2026-03-08T15:00:00+08:00,arrears\n")


def _register(home: Path, rows: str, at: datetime) -> None:
    path = home.parent / f"register-{at:%Y%m%d}.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        report = import_subscribers(conn, path, now=at)
        assert report.accepted == 2, report.problems
    app.close()


@pytest.fixture
def home(tmp_path: Path, database: str | None) -> Path:
    """A (requested) and B (arrears) suspended from 15:00 on 8 March: the 9th to the 31st wholly suspended, 23 of 31
    days; each made a call on the 5th."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, POLICY)
    app.close()
    _register(home, ACTIVE, datetime(2026, 1, 5, tzinfo=CN))
    _register(home, SUSPENDED, datetime(2026, 3, 8, 16, tzinfo=CN))
    _usage(home, "t1", [_call("a-call", A, 5), _call("b-call", B, 5)])
    return home


def _preview(home: Path, msisdn: str) -> list[tuple[str, int]]:
    from fairtel.cli._home import home_catalog
    from fairtel.store._care import StoreCareData

    app = open_app(home)
    try:
        port = StoreCareData(app.db.engine, app.settings.lake_dir, home_catalog(app, None, []))
        facts = port.bill(msisdn, P)
        assert facts is not None
        return [(i.description.en, i.amount_minor) for i in facts.items if i.kind == "plan_fee"]
    finally:
        app.close()


def test_a_requested_suspension_pays_the_keep_number_fee_and_arrears_the_plan_fee(home: Path) -> None:
    # the assistant's preview of the bill, before it is issued
    assert _preview(home, A) == [("Plan fee (Basic 39)", 1006), ("Keep-number fee (Basic 39)", 371)]
    assert _preview(home, B) == [("Plan fee (Basic 39)", 3900)]
    run = as_json(home, "bill", "--period", P, "--issue")
    totals = {b["msisdn"]: Decimal(b["total"]) for b in run["sample"]}
    # 39.00 × 8/31 = 10.06 and 5.00 × 23/31 = 3.71, with A's call (3.00); B: 39.00 and its call
    assert totals == {A: Decimal("16.77"), B: Decimal("42.00")}, run
    en = " ".join(invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout.split())
    zh = invoke(home, "bill", "statement", A, "--period", P, "--lang", "zh").stdout
    assert "Keep-number fee (suspended) · Basic 39 (23/31 days)" in en and "Monthly fee · Basic 39 (8/31 days)" in en, en
    assert "停机保号费 · 基础套餐 39 元（23/31 天）" in zh and "套餐月费 · 基础套餐 39 元（8/31 天）" in zh, zh
    # the rerate prices the fees as the bill run did: nothing to correct
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["fees_changed"] == 0, rr


def test_the_register_refuses_a_reason_it_does_not_know(home: Path) -> None:
    path = home.parent / "register-bad.csv"
    path.write_text(HEADER + f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,,holiday\n"
                    f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,,requested\n", encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        report = import_subscribers(conn, path, now=datetime(2026, 4, 2, tzinfo=CN))
    app.close()
    assert report.accepted == 0
    assert sorted(p.field for p in report.problems) == ["suspension_reason", "suspension_reason"], report.problems
