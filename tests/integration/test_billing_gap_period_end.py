"""A bill run issues a period only once it has ended on the operator's clock: `bill --period 2027-05 --issue`
issued immutable bills with a whole month's plan fee for a month not begun, and the current month likewise. A
preview stays allowed; `--before-period-end` issues a period on its last day, never earlier."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import CN, A, P, as_json, cli, open_app, rec, runner

from fairtel.billing import PeriodNotEndedError, check_issuable
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._billing import bill_period
from fairtel.cli._demo import DemoContext, _bill
from fairtel.cli._rating import rate_period
from fairtel.cli._ui import reporter
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period, utc_now

home = base.home  # a home with three subscribers and their rated March 2026 usage
TZ = "Asia/Shanghai"


def _bills(home: Path) -> int:
    with sqlite3.connect(home / "fairtel.db") as conn:
        return int(conn.execute("SELECT count(*) FROM bills").fetchone()[0])


def _refused(home: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(cli(), [*args, "--home", str(home), "--json"])
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["error"]  # type: ignore[no-any-return]


def test_a_period_not_begun_is_not_issued(home: Path) -> None:
    err = _refused(home, "bill", "--period", "2027-05", "--issue")
    assert err["code"] == "period_not_ended"
    assert "has not begun" in err["message"] and "2027-06-01 00:00 Asia/Shanghai" in err["message"]
    assert err["details"]["period_end"] == "2027-06-01T00:00:00+08:00"
    assert _bills(home) == 0 and not open_app(home).lake.files("bills")  # nothing written
    # not even with the option for a last-day close
    assert _refused(home, "bill", "--period", "2027-05", "--issue", "--before-period-end")["code"] == "period_not_ended"
    preview = as_json(home, "bill", "--period", "2027-05")  # a preview is still allowed, and says so
    assert preview["mode"] == "preview" and preview["bills"] == 3
    assert any("2027-05 has not ended" in n for n in preview["notes"])


def test_the_current_month_is_not_issued_before_its_end(home: Path) -> None:
    current = Period.containing(utc_now(), TZ)
    err = _refused(home, "bill", "--period", current.key, "--issue")
    assert err["code"] == "period_not_ended" and "has not ended" in err["message"]
    assert f"{current.end:%Y-%m-%d} 00:00 Asia/Shanghai" in err["message"] and "--before-period-end" in err["message"]
    assert _bills(home) == 0
    # an ended period is issued as before
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 3


def test_before_period_end_issues_on_the_last_day_only(home: Path) -> None:
    catalog = load_catalog(default_catalog_path())
    app = open_app(home)
    april = Period.parse("2026-04", TZ)
    # two days before the end: refused, with the option too
    with pytest.raises(PeriodNotEndedError, match="on its last day only, from 2026-04-30 00:00"):
        bill_period(app, "2026-04", catalog=catalog, issue=True, now=datetime(2026, 4, 28, 12, tzinfo=CN),
                    before_period_end=True)
    # on the last day, at 22:00 on the operator's clock: refused without the option, issued with it
    evening = datetime(2026, 4, 30, 22, tzinfo=CN)
    with pytest.raises(PeriodNotEndedError):
        bill_period(app, "2026-04", catalog=catalog, issue=True, now=evening)
    assert _bills(home) == 0
    out = bill_period(app, "2026-04", catalog=catalog, issue=True, now=evening, before_period_end=True)
    assert out["bills"] == 3 and any("issued before its end" in n and "rerate --period 2026-04" in n for n in out["notes"])
    # after the end, with the injected clock: issued without the option
    after = bill_period(app, P, catalog=catalog, issue=True, now=april.start + timedelta(minutes=1))
    assert after["bills"] == 3 and not any("before its end" in n for n in after["notes"])
    app.close()


def test_the_rule_on_the_operators_clock() -> None:
    per = Period.parse("2026-11", TZ)
    assert check_issuable(per, datetime(2026, 11, 30, 16, tzinfo=UTC)) is None  # 00:00 on 1 December in Shanghai
    with pytest.raises(PeriodNotEndedError):
        check_issuable(per, datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert check_issuable(per, datetime(2026, 11, 29, 16, tzinfo=UTC), before_period_end=True) is not None
    with pytest.raises(PeriodNotEndedError):
        check_issuable(per, datetime(2026, 11, 29, 15, 59, tzinfo=UTC), before_period_end=True)


def test_the_demo_issues_ended_periods_and_previews_the_others(home: Path) -> None:
    app = open_app(home)
    future = Period.containing(utc_now(), TZ).next()
    app.lake.write("usage", future.key, pa.Table.from_pylist(
        [rec("f1", A, duration_s=60, started_at=future.start.astimezone(UTC) + timedelta(days=2))], schema=CLEAN_USAGE_SCHEMA),
        part="t1")
    rate_period(app, future, catalog=load_catalog(default_catalog_path()))
    with reporter(quiet=True) as rep:
        figures = _bill(DemoContext(app, home / "op", 3, 1, 1, rep))
    assert figures["bills issued"] == 3 and figures["previewed, not ended"] == future.key
    assert _bills(home) == 3
    app.close()
