"""`fairtel churn warn` on the home reads each line's status history (``line_status_history``) so that a line is
judged as it stood at the end of the scored period: the register forgets a suspension once the line is back in
service, the history keeps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli._churn import STATUS_HISTORY_SCHEMA, home_status_history
from fairtel.core.settings import load_settings
from fairtel.insight._churn_warning import line_status_at, retention_skips
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,suspended_at\n"


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)


def _register(path: Path, a: str, b: str, a_since: str = "") -> Path:
    path.write_text(HEADER + f"{A},c1,payg,2025-01-01T00:00:00+08:00,{a},zh,sh,{a_since}\n"
                    + f"{B},c2,payg,2025-01-01T00:00:00+08:00,{b},en,sh,\n", encoding="utf-8")
    return path


def test_the_home_history_says_what_the_register_forgot(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, _register(tmp_path / "s1.csv", "active", "active"), now=_at(1))
        import_subscribers(conn, _register(tmp_path / "s2.csv", "suspended", "active", "2026-03-10T12:00:00+08:00"),
                           now=_at(10, 13))
        import_subscribers(conn, _register(tmp_path / "s3.csv", "active", "suspended"), now=_at(20, 12))
    history = home_status_history(app)
    app.close()
    assert history.schema == pl.Schema(STATUS_HISTORY_SCHEMA)
    end_of_period = _at(15, 0)  # A suspended then (brought back on the 20th); B in service then (suspended on the 20th)
    then = dict(line_status_at(history, end_of_period).select("msisdn", "status").iter_rows())
    assert then == {A: "suspended", B: "active"}
    register = pl.DataFrame({"msisdn": [A, B], "status": ["active", "suspended"], "suspended_at": [None, _at(20, 12)]},
                            schema_overrides={"suspended_at": pl.Datetime("us", "UTC")})
    assert dict(retention_skips(register, None, end_of_period, history).iter_rows()) == {A: "suspended"}
    assert retention_skips(register, None, end_of_period).height == 0  # the register alone lists A
